import { createAdminClient, createDeviceClient, fleetCodeOf, trpcCodeOf } from '@camfleet/client';
import type { Offer } from '@camfleet/contracts';
import { RedisServer, waitFor } from '@camfleet/test-support';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningServer } from './server.js';
import { ADMIN_TOKEN, ENROLL_TOKEN, startTestPod } from './testing/in-process.js';

let redisServer: RedisServer;
let redis: Redis;
let pod: RunningServer;
let admin: ReturnType<typeof createAdminClient>;
const devices: Array<ReturnType<typeof createDeviceClient>> = [];

beforeAll(async () => {
  redisServer = await RedisServer.start({ enableDebug: true });
  redis = new Redis(redisServer.url, { protocol: 2 });
  pod = await startTestPod(redisServer.url);
  admin = createAdminClient(pod.url, ADMIN_TOKEN);
});
afterEach(async () => {
  // Rollouts queue per device in creation order: finish each test's rollouts so the next starts clean.
  for (const rollout of await admin.client.rollout.list.query({ limit: 500 })) {
    if (rollout.status !== 'canceled') await admin.client.rollout.cancel.mutate({ rolloutId: rollout.id });
  }
});
afterAll(async () => {
  for (const d of devices) d.wsClient.close();
  admin.close();
  await pod.close();
  await redis.quit();
  await redisServer.destroy();
});

/** A device with a live offer subscription, collecting what it is offered. */
async function connectDevice(deviceId: string, token = ENROLL_TOKEN) {
  let opens = 0;
  let rejected: string | null = null;
  const device = createDeviceClient({
    baseUrl: pod.url,
    deviceId,
    token,
    retryDelayMs: () => 50,
    onOpen: () => {
      opens++;
    },
    onRejected: (message) => {
      rejected = message;
      device.wsClient.close();
    },
  });
  devices.push(device);
  const offers: Offer[] = [];
  const cancels: Array<{ deliveryId: string; attempt: number }> = [];
  const subscription = device.client.device.offers.subscribe(
    {},
    {
      onData: (event) => {
        if (event.data.type === 'offer') offers.push(event.data.offer);
        else cancels.push(event.data);
      },
      onError: () => undefined,
    },
  );
  return { ...device, offers, cancels, subscription, opens: () => opens, rejected: () => rejected };
}

async function publishAndRollOut(settings: { ackTimeoutMs?: number } = {}) {
  const patch = await admin.client.patch.publish.mutate({
    name: 'fw',
    version: `v${Math.random().toString(36).slice(2)}`,
  });
  return admin.client.rollout.create.mutate({ patchId: patch.id, ...settings });
}

/**
 * A digest of every key but the pods' own bookkeeping (presence leases, the gate-evaluation
 * schedule), which background loops rewrite on their own: equal before and after means a
 * request changed nothing.
 */
async function digest(): Promise<string> {
  const keys = (await redis.keys('*')).filter((key) => !/:\{g\}:(nodes|eval)$/.test(key)).sort();
  if (keys.length === 0) return '';
  const values = (await redis.call('DEBUG', 'DIGEST-VALUE', ...keys)) as string[];
  return keys.map((key, i) => `${key}=${values[i]}`).join('\n');
}

async function failure(promise: Promise<unknown>): Promise<{ trpc: string | null; fleet: string | null }> {
  try {
    await promise;
  } catch (error) {
    return { trpc: trpcCodeOf(error), fleet: fleetCodeOf(error) };
  }
  throw new Error('expected the call to fail');
}

describe('health', () => {
  it('is alive and ready once Redis is reachable and the scripts are loaded', async () => {
    expect((await fetch(`${pod.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${pod.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, redis: 'ready' });
    expect((await fetch(`${pod.url}/nope`)).status).toBe(404);
  });
});

describe('authentication', () => {
  it('refuses a device with a wrong token once, without a reconnect loop', async () => {
    const device = await connectDevice('intruder', 'wrong-token-123');
    await waitFor(() => device.rejected(), { what: 'the rejection' });
    expect(device.rejected()).toMatch(/refused/);
    const opensAtRejection = device.opens();
    await new Promise((r) => setTimeout(r, 500));
    expect(device.opens()).toBe(opensAtRejection);
    expect(await redis.exists(`cf:{b0}:dev:intruder`)).toBe(0);
  });

  it('refuses admin calls with a wrong or missing token', async () => {
    const wrong = createAdminClient(pod.url, 'not-the-token');
    expect(await failure(wrong.client.patch.list.query())).toMatchObject({ trpc: 'UNAUTHORIZED' });
    const response = await fetch(`${pod.url}/trpc/fleet.stats`);
    expect(response.status).toBe(401);
    wrong.close();
  });

  it('keeps a device to its own deliveries', async () => {
    const victim = await connectDevice('victim-1');
    await victim.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const attacker = await connectDevice('attacker-1');
    await attacker.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await publishAndRollOut();
    await waitFor(() => victim.offers.length > 0, { what: 'the victim offer' });
    const before = await digest();
    const stolen = attacker.client.device.report.mutate({
      deliveryId: `${rollout.id}:victim-1`,
      attempt: 1,
      status: 'failed',
      error: 'sabotage',
    });
    expect(await failure(stolen)).toEqual({ trpc: 'FORBIDDEN', fleet: 'FORBIDDEN' });
    expect(await digest()).toBe(before);
  });
});

describe('pushed offers', () => {
  it('pushes an offer the moment a rollout starts, and resumes after a reconnect without repeating it', async () => {
    const device = await connectDevice('push-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await publishAndRollOut();
    const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === rollout.id), {
      what: 'the offer',
    });
    expect(offer.attempt).toBe(1);
    const before = device.offers.length;

    // Drop the socket: the client reconnects and resubscribes with lastEventId.
    const opens = device.opens();
    device.wsClient.connection?.ws?.close();
    await waitFor(() => device.opens() > opens, { what: 'the reconnect' });
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    await new Promise((r) => setTimeout(r, 300));
    expect(device.offers.length).toBe(before);

    await device.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'succeeded',
      firmwareVersion: offer.patch.version,
    });
    const status = await admin.client.rollout.get.query({ rolloutId: rollout.id });
    expect(status.counts.succeeded).toBeGreaterThanOrEqual(1);
  });

  it('re-offers after the ack timeout when the device stays silent', async () => {
    const device = await connectDevice('silent-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await publishAndRollOut({ ackTimeoutMs: 300 });
    const retry = await waitFor(
      () => device.offers.find((o) => o.rolloutId === rollout.id && o.attempt === 2),
      { what: 'the second attempt', timeoutMs: 10_000 },
    );
    expect(retry.deliveryId).toBe(`${rollout.id}:silent-1`);
    const detail = await admin.client.devices.get.query({ deviceId: 'silent-1' });
    const delivery = detail.deliveries.find((d) => d.rolloutId === rollout.id);
    expect(delivery).toMatchObject({ state: 'offered', attempt: 2, failures: 1 });
    expect(delivery?.lastError).toMatch(/ack timeout/);
  });
});

describe('bad input over the wire changes nothing', () => {
  it('answers each public procedure’s bad input with a clear error', async () => {
    const device = await connectDevice('badin-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const before = await digest();
    const c = admin.client;
    const cases: Array<[() => Promise<unknown>, string, string | null]> = [
      [() => device.client.device.register.mutate({ model: '', firmwareVersion: '1' }), 'BAD_REQUEST', null],
      [
        () =>
          device.client.device.report.mutate({ deliveryId: 'ro_x:badin-1', attempt: 1, status: 'installed' }),
        'NOT_FOUND',
        'NOT_FOUND',
      ],
      [
        () => device.client.device.report.mutate({ deliveryId: 'x', attempt: -1, status: 'installed' }),
        'BAD_REQUEST',
        null,
      ],
      [() => c.patch.publish.mutate({ name: 'fw', version: 'v'.repeat(100) }), 'BAD_REQUEST', null],
      [() => c.patch.get.query({ patchId: 'pat_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.rollout.create.mutate({ patchId: 'pat_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.rollout.create.mutate({ patchId: 'pat_x', ackTimeoutMs: 1 }), 'BAD_REQUEST', null],
      [() => c.rollout.get.query({ rolloutId: 'ro_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.rollout.cancel.mutate({ rolloutId: 'ro_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.devices.get.query({ deviceId: 'nobody' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.devices.list.query({ cursor: 'garbage' }), 'BAD_REQUEST', 'INVALID_INPUT'],
    ];
    for (const [call, trpc, fleet] of cases) {
      expect(await failure(call())).toEqual({ trpc, fleet });
    }
    expect(await digest()).toBe(before);
  });

  it('drops an oversized frame and a malformed one without changing anything', async () => {
    const before = await digest();
    const url = `${pod.url.replace('http', 'ws')}/trpc`;
    const socket = new WebSocket(url);
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    socket.send('{"not":"trpc"');
    socket.send('x'.repeat(200 * 1024));
    // The server cuts a connection that sends more than maxPayload.
    expect(await closed).toBe(true);
    const response = await fetch(`${pod.url}/trpc/patch.publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ json: { name: 'fw', version: '1', notes: 'n'.repeat(100 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(await digest()).toBe(before);
  });
});
