import type { RedisClient } from '@camfleet/redis';
import { connectTestRedis, startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Metrics } from '../metrics.js';
import { KeySpace } from '../redis/keys.js';
import { HintBus, type HintHandlers } from './hints.js';

let server: TestRedis;
const clients: RedisClient[] = [];
beforeAll(async () => {
  server = await startTestRedis();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.destroy();
});

function bus(instance: string): {
  bus: HintBus;
  handlers: { [K in keyof HintHandlers]: ReturnType<typeof vi.fn> };
} {
  const subscriber = connectTestRedis(server.url, { subscriber: true });
  const publisher = connectTestRedis(server.url);
  clients.push(subscriber, publisher);
  const handlers = {
    devices: vi.fn(),
    broadcast: vi.fn(),
    capacity: vi.fn(),
    kick: vi.fn(),
    drop: vi.fn(),
    reassert: vi.fn(),
  };
  return {
    bus: new HintBus(subscriber, publisher, new KeySpace('h'), instance, new Metrics(), handlers),
    handlers,
  };
}

describe('hint bus', () => {
  it('delivers a reassert to the reaped pod (not as a device hint), and device hints as such', async () => {
    const reaped = bus('pod-a.000001');
    const reaper = bus('pod-b.000002');
    await reaped.bus.start();
    await reaper.bus.start();

    await reaper.bus.reassert('pod-a.000001');
    await waitFor(() => reaped.handlers.reassert.mock.calls.length === 1, { what: 'the reassert hint' });
    expect(reaped.handlers.devices).not.toHaveBeenCalled();
    expect(reaper.handlers.reassert).not.toHaveBeenCalled();

    await reaper.bus.hint(new Map([['pod-a.000001', ['cam-1', 'cam-2']]]));
    await waitFor(() => reaped.handlers.devices.mock.calls.length === 1, { what: 'the device hint' });
    expect(reaped.handlers.devices).toHaveBeenCalledWith(['cam-1', 'cam-2']);
    expect(reaped.handlers.reassert).toHaveBeenCalledTimes(1);
  });
});
