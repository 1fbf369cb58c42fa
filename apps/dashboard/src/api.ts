import { adminClientOver, type FleetClient, trpcCodeOf } from '@camfleet/client/admin';

/**
 * The dashboard's tRPC client: the CLI's admin client (`@camfleet/client/admin`, the browser's
 * own WebSocket). Deliberately the vanilla client, not React Query: the views are
 * live subscriptions (rollout.watch, events.follow) that push their own state, plus a few one-shot
 * or periodically refreshed queries; a cache layer would add weight without removing any code.
 */
export type Api = FleetClient;

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
  const { client, close } = adminClientOver({
    ...endpoints(),
    token,
    // Opened by the first subscription, closed a little after the last one ends (page changes
    // re-subscribe without a new handshake).
    closeMs: 3_000,
    retryDelayMs: (attempt) => Math.min(500 * 2 ** attempt, 10_000),
  });
  return { api: client, close };
}

/** The tRPC error code of a failed call (`UNAUTHORIZED`, `FORBIDDEN`, …), if the server sent one. */
export { trpcCodeOf as errorCode };

/** A message fit to show: the server's (already readable) message, or the error's own. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
