/**
 * The transport alone, for the memory floor: a bare `ws` server, or a bare tRPC WebSocket server
 * with one subscription per client (nothing of camfleet). Prints its port to the parent over IPC.
 */
import { initTRPC } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import superjson from 'superjson';
import { WebSocketServer } from 'ws';

const t = initTRPC.create({ transformer: superjson });
/** One subscription that stays open until the client goes, as a camera's offer stream does. */
export const floorRouter = t.router({
  offers: t.procedure.subscription(async function* ({ signal }) {
    await new Promise((resolve) => signal?.addEventListener('abort', resolve));
    yield null;
  }),
});
export type FloorRouter = typeof floorRouter;

if (process.argv[2]) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', backlog: 4096 });
  if (process.argv[2] === 'trpc') {
    applyWSSHandler({
      wss,
      router: floorRouter,
      keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 10_000 },
    });
  } else {
    wss.on('connection', (ws) => ws.on('message', () => undefined));
  }
  wss.on('listening', () => {
    const address = wss.address();
    process.send?.(typeof address === 'object' && address ? address.port : 0);
  });
}
