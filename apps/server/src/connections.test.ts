import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@camfleet/test-support';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Connections, PodSocket } from './connections.js';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** A server of PodSockets guarded by `connections`, and a client of it that records its frames. */
async function pair(connections: Connections) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', WebSocket: PodSocket });
  await once(wss, 'listening');
  wss.on('connection', (ws) => connections.guard(ws));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const frames: string[] = [];
  let closed = false;
  client.on('message', (data) => frames.push(String(data)));
  client.on('close', () => {
    closed = true;
  });
  await once(client, 'open');
  await waitFor(() => wss.clients.size === 1, { what: 'the server side' });
  stops.push(() => {
    client.terminate();
    wss.close();
  });
  return { wss, client, frames, closed: () => closed };
}

function connections(limits: { messagesPerSecond?: number; maxBufferedBytes?: number } = {}) {
  return new Connections({
    messagesPerSecond: limits.messagesPerSecond ?? 50,
    maxBufferedBytes: limits.maxBufferedBytes ?? 1 << 20,
    log: pino({ level: 'silent' }),
  });
}

describe('the shared keepalive', () => {
  it('pings a quiet socket, keeps one that answers and terminates one that does not', async () => {
    const pod = connections();
    const answering = await pair(pod);
    const silent = await pair(pod);
    answering.client.on('message', (data) => {
      if (String(data) === 'PING') answering.client.send('PONG');
    });
    const sockets = new Set([...answering.wss.clients, ...silent.wss.clients]);
    stops.push(pod.keepAlive(sockets, { pingMs: 200, pongWaitMs: 200, tickMs: 20 }));
    await waitFor(() => silent.closed(), { timeoutMs: 5_000, what: 'the silent socket to be dropped' });
    expect(silent.frames).toEqual(['PING']);
    expect(answering.frames.filter((f) => f === 'PING').length).toBeGreaterThanOrEqual(1);
    expect(answering.closed()).toBe(false);
  });

  it('does not ping a socket that keeps talking', async () => {
    const pod = connections();
    const chatty = await pair(pod);
    stops.push(pod.keepAlive(chatty.wss.clients, { pingMs: 300, pongWaitMs: 100, tickMs: 20 }));
    for (let i = 0; i < 10; i++) {
      chatty.client.send('hello');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(chatty.frames).toEqual([]);
    expect(chatty.closed()).toBe(false);
  });
});

describe('the per-socket limits on a PodSocket', () => {
  it('closes a socket over the message rate with 1008', async () => {
    const pod = connections({ messagesPerSecond: 5 });
    const { client } = await pair(pod);
    const closed = once(client, 'close');
    for (let i = 0; i < 30; i++) client.send('x');
    const [code] = (await closed) as [number];
    expect(code).toBe(1008);
  });

  it('terminates a socket past the unsent-bytes cap instead of queueing more', async () => {
    const pod = connections({ maxBufferedBytes: 10 });
    const { wss, client } = await pair(pod);
    const [server] = [...wss.clients];
    // bufferedAmount counts what ws has not handed to the kernel; force it above the cap.
    Object.defineProperty(server, 'bufferedAmount', { value: 11 });
    const closed = once(client, 'close');
    server?.send('more');
    await closed;
    expect(server?.readyState).toBe(WebSocket.CLOSED);
  });
});
