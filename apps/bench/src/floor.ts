import { fork } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { waitFor } from '@camfleet/test-support';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import { processUsage } from './cluster.js';
import type { FloorRouter } from './floor-server.js';

export interface FloorResult {
  connections: number;
  /** RSS per open connection of a bare `ws` server. */
  wsBytesPerConnection: number;
  /** RSS per client of a bare tRPC WebSocket server holding one subscription each. */
  trpcBytesPerSubscribedClient: number;
}

/** RSS per connection of a transport-only server process (see floor-server.ts). */
async function perConnection(mode: 'ws' | 'trpc', connections: number): Promise<number> {
  const server = fork(join(import.meta.dirname, 'floor-server.ts'), [mode], {
    execArgv: ['--import', 'tsx'],
  });
  try {
    const [port] = (await once(server, 'message')) as [number];
    const pid = server.pid ?? 0;
    // Let startup settle, as the pods' baseline does.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = (await processUsage(pid)).rssBytes;
    const url = `ws://127.0.0.1:${port}`;
    let ready = 0;
    const closers: (() => void)[] = [];
    for (let i = 0; i < connections; i++) {
      if (mode === 'ws') {
        const ws = new WebSocket(url).on('open', () => ready++);
        closers.push(() => ws.terminate());
      } else {
        const wsClient = createWSClient({
          url,
          WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
        });
        const client = createTRPCClient<FloorRouter>({
          links: [wsLink({ client: wsClient, transformer: superjson })],
        });
        client.offers.subscribe(undefined, { onStarted: () => ready++ });
        closers.push(() => void wsClient.close());
      }
    }
    await waitFor(() => ready === connections, {
      timeoutMs: 120_000,
      what: `${connections} ${mode} clients`,
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = (await processUsage(pid)).rssBytes;
    for (const close of closers) close();
    return Math.round((after - before) / connections);
  } finally {
    server.kill('SIGKILL');
  }
}

/** What the transport alone costs per device on this machine: the floor under `memory`. */
export async function floor(connections = 3_000): Promise<FloorResult> {
  return {
    connections,
    wsBytesPerConnection: await perConnection('ws', connections),
    trpcBytesPerSubscribedClient: await perConnection('trpc', connections),
  };
}
