import { mastersOf, type RedisClient } from '@camfleet/redis';
import { connectTestRedis, startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Metrics } from '../metrics.js';
import { KeySpace } from '../redis/keys.js';
import type { RelayedOffers } from '../redis/scripts/index.js';
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
    offers: vi.fn(),
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

  it('relays offers to the pod instance holding each connection, and its own straight in', async () => {
    const holder = bus('pod-c.000003');
    const creator = bus('pod-d.000004');
    await holder.bus.start();
    await creator.bus.start();
    const reply: RelayedOffers['reply'] = {
      kind: 'offer',
      rolloutId: 'ro_1',
      attempt: 1,
      deadlineAt: 1_000,
      ackTimeoutMs: 60_000,
      window: null,
      patch: { id: 'pat_1', name: 'fw', version: '2', notes: '', artifact: '', signature: '', delta: '' },
    };
    const device = (deviceId: string, instance: string) => ({
      deviceId,
      instance,
      connectionId: `conn-${deviceId}`,
    });
    await creator.bus.relay([
      {
        reply,
        devices: [
          device('cam-1', 'pod-c.000003'),
          device('cam-2', 'pod-d.000004'),
          device('cam-3', 'pod-c.000003'),
        ],
      },
    ]);
    // Each pod instance gets the offer once, with its own devices.
    expect(creator.handlers.offers).toHaveBeenCalledWith([
      { reply, devices: [device('cam-2', 'pod-d.000004')] },
    ]);
    await waitFor(() => holder.handlers.offers.mock.calls.length === 1, { what: 'the relayed offers' });
    expect(holder.handlers.offers).toHaveBeenCalledWith([
      { reply, devices: [device('cam-1', 'pod-c.000003'), device('cam-3', 'pod-c.000003')] },
    ]);
    expect(holder.handlers.devices).not.toHaveBeenCalled();
  });

  it('evaluates every local device after its subscriber reconnects (what was published meanwhile is lost)', async () => {
    const pod = bus('pod-e.000005');
    await pod.bus.start();
    expect(pod.handlers.broadcast).not.toHaveBeenCalled();
    const admin = connectTestRedis(server.url);
    clients.push(admin);
    await admin.ping();
    await Promise.all(mastersOf(admin).map((master) => master.call('CLIENT', 'KILL', 'TYPE', 'pubsub')));
    await waitFor(() => pod.handlers.broadcast.mock.calls.length >= 1, {
      what: 'the evaluation after reconnecting',
    });
    // Subscribed again: hints arrive as before.
    await waitFor(
      async () => {
        await admin.spublish(new KeySpace('h').hintChannel('pod-e.000005'), 'cam-9');
        return pod.handlers.devices.mock.calls.length > 0;
      },
      { what: 'a hint after reconnecting' },
    );
  });
});
