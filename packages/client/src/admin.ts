/**
 * The operator's client without Node's `ws`: the CLI passes `ws`, a browser (the dashboard) its
 * own WebSocket. Exported as `@camfleet/client/admin`.
 */
import type { AppRouter } from '@camfleet/contracts';
import {
  createTRPCClient,
  createWSClient,
  httpLink,
  splitLink,
  type TRPCClient,
  TRPCClientError,
  wsLink,
} from '@trpc/client';
import superjson from 'superjson';

export type FleetClient = TRPCClient<AppRouter>;

export interface AdminClientOptions {
  /** tRPC's HTTP endpoint (`…/trpc`) and WebSocket endpoint (`ws(s)://…/trpc`). */
  http: string;
  ws: string;
  token: string;
  /** A WebSocket implementation where there is no global one (Node 20: `ws`). */
  WebSocket?: typeof globalThis.WebSocket;
  /** How long the lazily opened socket stays open after the last subscription ends. */
  closeMs: number;
  retryDelayMs: (attempt: number) => number;
}

/**
 * Queries and mutations over HTTP with `Authorization: Bearer`; subscriptions over one lazily
 * opened WebSocket that authenticates with `connectionParams`. The token never goes into a URL.
 */
export function adminClientOver(options: AdminClientOptions): { client: FleetClient; close: () => void } {
  const wsClient = createWSClient({
    url: options.ws,
    ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    connectionParams: { token: options.token },
    lazy: { enabled: true, closeMs: options.closeMs },
    retryDelayMs: options.retryDelayMs,
  });
  const client = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: wsClient, transformer: superjson }),
        false: httpLink({
          url: options.http,
          transformer: superjson,
          headers: { authorization: `Bearer ${options.token}` },
        }),
      }),
    ],
  });
  return { client, close: () => void wsClient.close() };
}

/** A field of a failed call's error data (what the server's error formatter added), if any. */
export function errorDataField(error: unknown, field: string): unknown {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data: unknown = error.data;
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[field] : undefined;
}

/** The limit that refused a call (`data.limit.name` of a TOO_MANY_REQUESTS), if any. */
export function limitNameOf(error: unknown): string | null {
  const limit = errorDataField(error, 'limit');
  const name = typeof limit === 'object' && limit !== null ? (limit as { name?: unknown }).name : null;
  return typeof name === 'string' ? name : null;
}

/** The tRPC error code (`UNAUTHORIZED`, `BAD_REQUEST`, …) of a failed call, if any. */
export function trpcCodeOf(error: unknown): string | null {
  const code = errorDataField(error, 'code');
  return typeof code === 'string' ? code : null;
}
