import type { Server } from 'node:http';
import type { RedisClient } from '@camfleet/redis';
import type { WebSocketServer } from 'ws';

/** tRPC's reconnect notification: the client opens a new connection (to another pod). */
const RECONNECT = JSON.stringify({ id: null, method: 'reconnect' });

export interface ShutdownParts {
  http: Server;
  wss: WebSocketServer;
  /** Sockets that are not tRPC's (legacy cameras): told to go, 1012. */
  closeOtherSockets: () => void;
  /** The pod's loops, stopped before it leaves Redis. */
  stopBackground: () => Promise<void>;
  /** Removes the pod's presence lease: the other pods need not wait for it to expire. */
  leave: () => Promise<unknown>;
  redisClients: readonly RedisClient[];
  graceMs: number;
}

/**
 * A pod's graceful exit, once it stopped being ready: clients are told to reconnect elsewhere (spread
 * over a short window, no thundering herd), sockets drain for up to `graceMs`, HTTP closes, and the
 * pod leaves Redis tidily if Redis answers in time; it exits even while Redis is down.
 */
export async function shutDown(parts: ShutdownParts): Promise<void> {
  const { http, wss, graceMs } = parts;
  const clients = [...wss.clients];
  const spreadMs = Math.min(graceMs / 2, 2_000);
  clients.forEach((ws, i) => {
    setTimeout(() => ws.send(RECONNECT), (i / Math.max(clients.length, 1)) * spreadMs).unref();
  });
  parts.closeOtherSockets();
  await waitUntil(() => wss.clients.size === 0, graceMs);
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeAllConnections();
  await httpClosed;
  const tidy = (async () => {
    await parts.stopBackground();
    await parts.leave();
    await Promise.all(parts.redisClients.map((client) => client.quit()));
  })().catch(() => undefined);
  await Promise.race([tidy, new Promise((resolve) => setTimeout(resolve, graceMs))]);
  for (const client of parts.redisClients) client.disconnect();
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
