import { createAdminClient, endpointsOf, type FleetClient } from '@camfleet/client';
import type { Command } from 'commander';
import { UsageError } from './errors.js';
import { type Colors, colorsFor } from './format.js';
import type { FleetIO } from './io.js';

/** Options every command takes (declared once on the root program). */
export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export interface Config {
  url: string;
  token: string;
}

/** --url/--token win over FLEET_URL/FLEET_TOKEN; either missing is a usage error (exit 2). */
export function resolveConfig(globals: GlobalOptions, env: FleetIO['env']): Config {
  const url = (globals.url ?? env.FLEET_URL ?? '').trim();
  const token = (globals.token ?? env.FLEET_TOKEN ?? '').trim();
  if (url === '')
    throw new UsageError('no server URL: set FLEET_URL (e.g. http://127.0.0.1:8080) or pass --url');
  if (token === '') throw new UsageError('no admin token: set FLEET_TOKEN or pass --token');
  try {
    endpointsOf(url);
  } catch {
    throw new UsageError(`invalid server URL '${url}': expected http(s)://host:port`);
  }
  return { url, token };
}

/** One command invocation: its global options, its output streams, and its connection. */
export class Session {
  readonly json: boolean;
  /** Colours for stdout (none off a TTY). */
  readonly c: Colors;
  /** Colours for stderr (none off a TTY). */
  readonly ce: Colors;
  private baseUrl: string | null = null;

  constructor(
    readonly io: FleetIO,
    readonly globals: GlobalOptions,
  ) {
    this.json = globals.json === true;
    this.c = colorsFor(io.stdout, io.env);
    this.ce = colorsFor(io.stderr, io.env);
  }

  static of(io: FleetIO, command: Command): Session {
    return new Session(io, command.optsWithGlobals<GlobalOptions>());
  }

  now(): number {
    return (this.io.now ?? Date.now)();
  }

  /** The pod URL in use, once a client was opened (for error messages). */
  get url(): string | null {
    return this.baseUrl;
  }

  /** A line of human output on stdout. Never used in --json mode. */
  print(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** A side note on stderr (hints, empty results); suppressed in --json mode. */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${this.ce.dim(text)}\n`);
  }

  /** The single JSON document of a --json run. */
  emitJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /**
   * One compact JSON object on a line of its own (NDJSON): only for `events --follow --json`,
   * the one command that prints a stream of documents instead of exactly one.
   */
  emitJsonLine(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Human output, or the given value as the JSON document. */
  output(value: unknown, human: () => string | null): void {
    if (this.json) {
      this.emitJson(value);
      return;
    }
    const text = human();
    if (text !== null) this.print(text);
  }

  /** The pod URL and token (a usage error if either is missing); remembers the URL for error messages. */
  config(): Config {
    const config = resolveConfig(this.globals, this.io.env);
    this.baseUrl = config.url;
    return config;
  }

  /** Opens a client (after validating the config, so nothing is sent on a usage error) and closes it after. */
  async withClient<T>(fn: (client: FleetClient) => Promise<T>): Promise<T> {
    const config = this.config();
    const connect = this.io.connect ?? createAdminClient;
    const { client, close } = connect(config.url, config.token);
    try {
      return await fn(client);
    } finally {
      close();
    }
  }
}
