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

/**
 * The dashboard's tRPC client. Deliberately the vanilla client, not React Query: the views are
 * live subscriptions (rollout.watch, events.follow) that push their own state, plus a few one-shot
 * or periodically refreshed queries; a cache layer would add weight without removing any code.
 */
export type Api = TRPCClient<AppRouter>;

export interface Connection {
  api: Api;
  /** Closes the WebSocket; the HTTP side holds nothing open. */
  close(): void;
}

/** The pod that served the page: tRPC over HTTP at /trpc/, its WebSocket at ws(s)://same-host/trpc. */
export function endpoints(): { http: string; ws: string } {
  const http = new URL('/trpc', window.location.href);
  const ws = new URL(http.href);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return { http: http.href, ws: ws.href };
}

/**
 * Queries and mutations go over HTTP with `Authorization: Bearer` (a refused token is a plain
 * UNAUTHORIZED answer); subscriptions share one lazily opened WebSocket that authenticates with
 * `connectionParams`, as the CLI's client does. The token never goes into a URL.
 */
export function connect(token: string): Connection {
  const { http, ws } = endpoints();
  const wsClient = createWSClient({
    url: ws,
    connectionParams: { token },
    // Opened by the first subscription, closed a little after the last one ends (page changes
    // re-subscribe without a new handshake).
    lazy: { enabled: true, closeMs: 3_000 },
    retryDelayMs: (attempt) => Math.min(500 * 2 ** attempt, 10_000),
  });
  const api = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: wsClient, transformer: superjson }),
        false: httpLink({ url: http, transformer: superjson, headers: { authorization: `Bearer ${token}` } }),
      }),
    ],
  });
  return { api, close: () => void wsClient.close() };
}

/** The tRPC error code of a failed call (`UNAUTHORIZED`, `FORBIDDEN`, …), if the server sent one. */
export function errorCode(error: unknown): string | null {
  if (!(error instanceof TRPCClientError)) return null;
  const data: unknown = error.data;
  if (typeof data === 'object' && data !== null && 'code' in data) {
    const code = (data as { code: unknown }).code;
    return typeof code === 'string' ? code : null;
  }
  return null;
}

/** A message fit to show: the server's (already readable) message, or the error's own. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
