import type { FleetClient } from '@camfleet/client';

/** The bits of a writable stream the CLI uses. Real TTY streams also carry cursor methods. */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Connection {
  client: FleetClient;
  close: () => void;
}

/** Everything the CLI touches outside itself, so tests can run commands in-process. */
export interface FleetIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Readonly<Record<string, string | undefined>>;
  /** Opens a client for a pod; defaults to createAdminClient. */
  connect?: (baseUrl: string, token: string) => Connection;
  /** Aborted on Ctrl-C: commands stop, `runFleet` returns 130. */
  signal?: AbortSignal;
  /** Clock for relative times ("3m ago"); defaults to Date.now. */
  now?: () => number;
}
