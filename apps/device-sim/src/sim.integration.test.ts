import { createAdminClient } from '@camfleet/client';
import {
  connectTestRedis,
  keysEverywhere,
  PodProcess,
  startTestRedis,
  type TestRedis,
  waitFor,
} from '@camfleet/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Credentials } from './credentials.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { releasedByCall } from './hold.js';

const ADMIN_TOKEN = 'sim-admin-token-0123';
const ENROLL_TOKEN = 'sim-enroll-token-0123';

const TOKENS = { admin: ADMIN_TOKEN, enroll: ENROLL_TOKEN };
const POD_ENV = { FLEET_SWEEP_INTERVAL_MS: '50', FLEET_LEASE_MS: '1000', FLEET_SHUTDOWN_GRACE_MS: '500' };

/** A real server process, as operators run it. */
function startPod(redisUrl: string, nodeId: string): Promise<PodProcess> {
  return PodProcess.start(redisUrl, nodeId, POD_ENV, TOKENS);
}

let redis: TestRedis;
let pods: PodProcess[] = [];
const fleets: Fleet[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  pods = await Promise.all([startPod(redis.url, 'pod-a'), startPod(redis.url, 'pod-b')]);
});

afterEach(async () => {
  await Promise.all(fleets.splice(0).map((fleet) => fleet.stop()));
  // A rollout also reaches devices that register later: cancel each test's, so the next starts clean.
  const live = pods.find((pod) => pod.child.exitCode === null && pod.child.signalCode === null);
  if (!live) return;
  const admin = createAdminClient(live.url, ADMIN_TOKEN);
  try {
    for (const rollout of await admin.client.rollout.list.query({ limit: 500 })) {
      if (rollout.status !== 'canceled') await admin.client.rollout.cancel.mutate({ rolloutId: rollout.id });
    }
  } finally {
    admin.close();
  }
});

afterAll(async () => {
  await Promise.all(pods.map((pod) => pod.kill('SIGTERM')));
  await redis?.destroy();
});

function startFleet(options: Partial<FleetOptions>): Fleet {
  const fleet = new Fleet({
    urls: pods.map((pod) => pod.url),
    devices: 20,
    // Each device enrolls with the pods' FLEET_ENROLL_TOKEN, then connects with its own secret.
    enrollToken: ENROLL_TOKEN,
    staggerMs: 1,
    backoff: { baseMs: 50, maxMs: 1_000 },
    ...options,
    faults: { downloadMs: 20, applyMs: 100, rebootMs: 100, ...options.faults },
  });
  fleets.push(fleet);
  fleet.start();
  return fleet;
}

/** A rollout target of just this fleet's devices, so rollout counts are about them alone. */
function targetOf(fleet: Fleet): RolloutSettings['target'] {
  return { kind: 'devices', deviceIds: fleet.devices.map((device) => device.id) };
}

/** Every device registered on `pod`. */
function onlyOn(fleet: Fleet, pod: PodProcess): boolean {
  return (
    fleet.summary().connected === fleet.devices.length && fleet.records().every((r) => r.url === pod.url)
  );
}

/** Until no device has work left: installs finished, restarts back (registered), reports landed. */
function settled(fleet: Fleet, timeoutMs = 20_000): Promise<boolean> {
  return waitFor(() => fleet.busy === 0, { timeoutMs, what: 'the fleet to settle' });
}

/**
 * Makes a delivery's current attempt overdue, as if its ack timeout had passed: only time moves (its
 * deadline, and when its device is next due in its bucket), and the pods' own sweep times it out.
 * Key layout as in apps/server/src/redis/keys.ts: `<bucket>d:<deliveryId>`, due set `<bucket>due`.
 */
async function expireAttempt(
  client: ReturnType<typeof connectTestRedis>,
  deliveryId: string,
  deviceId: string,
): Promise<void> {
  const suffix = `d:${deliveryId}`;
  const [key, ...others] = await keysEverywhere(client, `*:${suffix.replace(/[*?[\]\\]/g, '\\$&')}`);
  if (key === undefined || others.length > 0) throw new Error(`no single delivery key for ${deliveryId}`);
  const bucket = key.slice(0, -suffix.length);
  await client.hset(key, 'deadline', 1);
  await client.zadd(`${bucket}due`, 1, deviceId);
}

interface RolloutSettings {
  /** Only these devices (default: every device, those of earlier tests too, offline or not). */
  target?: { kind: 'devices'; deviceIds: string[] };
  ackTimeoutMs?: number;
  maxAttempts?: number;
  retryBackoff?: { baseMs: number; maxMs: number };
}

async function rolloutOf(rolloutId: string, pod = pods[1]!) {
  const admin = createAdminClient(pod.url, ADMIN_TOKEN);
  try {
    return await admin.client.rollout.get.query({ rolloutId });
  } finally {
    admin.close();
  }
}

async function cancelRollout(rolloutId: string, pod = pods[1]!) {
  const admin = createAdminClient(pod.url, ADMIN_TOKEN);
  try {
    return await admin.client.rollout.cancel.mutate({ rolloutId });
  } finally {
    admin.close();
  }
}

async function rollOut(version: string, settings: RolloutSettings = {}, pod = pods[0]!) {
  const admin = createAdminClient(pod.url, ADMIN_TOKEN);
  try {
    const patch = await admin.client.patch.publish.mutate({ name: 'camera-fw', version });
    return await admin.client.rollout.create.mutate({ patchId: patch.id, ...settings });
  } finally {
    admin.close();
  }
}

describe('device simulator against real pods', () => {
  it('installs a rollout on 20 devices spread over two pods, each exactly once', async () => {
    const fleet = startFleet({ prefix: 'itest' });
    await waitFor(() => fleet.summary().connected === 20, {
      timeoutMs: 20_000,
      what: '20 devices to register',
    });
    const rollout = await rollOut('2.0.0');
    await waitFor(() => fleet.summary().installsDone === 20, { timeoutMs: 30_000, what: '20 installs' });
    await settled(fleet);

    const summary = fleet.summary();
    expect(summary).toMatchObject({
      devices: 20,
      connected: 20,
      installsDone: 20,
      installsFailed: 0,
      installsRepeated: 0,
      reportsRejected: 0,
      rejectedDevices: 0,
      reboots: 20,
      rollbacks: 0,
    });
    expect(summary.installsStarted).toBe(20);
    expect(summary.firmware).toEqual({ '2.0.0': 20 });
    for (const record of fleet.records()) {
      expect(record.completed.filter((c) => c.outcome === 'installed')).toHaveLength(1);
    }
    // The server verified each one when it came back running 2.0.0.
    await waitFor(async () => (await rolloutOf(rollout.id)).counts.succeeded === 20, {
      timeoutMs: 10_000,
      what: 'the server to verify all 20',
    });
  });

  it('tells when each device is subscribed (after it registered), over the source addresses given', async () => {
    const order = new Map<string, string[]>();
    const fleet = startFleet({
      prefix: 'bound',
      devices: 6,
      localAddresses: ['127.0.0.2', '127.0.0.3'],
      onEvent: (event) => {
        if (event.type === 'connected' || event.type === 'subscribed')
          order.set(event.deviceId, [...(order.get(event.deviceId) ?? []), event.type]);
      },
    });
    await waitFor(() => [...order.values()].filter((seen) => seen.includes('subscribed')).length === 6, {
      what: 'six subscriptions',
    });
    for (const device of fleet.devices) expect(order.get(device.id)).toEqual(['connected', 'subscribed']);
  });

  it('cannot connect from a source address this machine does not have (the address is really used)', async () => {
    const fleet = startFleet({
      prefix: 'unbound',
      devices: 2,
      localAddresses: ['192.0.2.1'],
      connectTimeoutMs: 500,
      backoff: { baseMs: 10, maxMs: 20 },
    });
    await waitFor(() => fleet.summary().reconnects >= 4, { what: 'failed connection attempts' });
    expect(fleet.summary().connected).toBe(0);
  });

  it('with --no-reboot, devices report "succeeded" with the version and the server takes it', async () => {
    const fleet = startFleet({ prefix: 'inplace', devices: 4, faults: { reboot: false } });
    await waitFor(() => fleet.summary().connected === 4, { timeoutMs: 20_000 });
    const rollout = await rollOut('2.0.1', { target: targetOf(fleet) });
    await waitFor(() => fleet.summary().installsDone === 4, { timeoutMs: 30_000, what: '4 installs' });
    await settled(fleet);

    expect(fleet.summary()).toMatchObject({ reboots: 0, installsRepeated: 0, reportsRejected: 0 });
    expect(fleet.summary().firmware).toEqual({ '2.0.1': 4 });
    await waitFor(async () => (await rolloutOf(rollout.id)).counts.succeeded === 4, {
      timeoutMs: 10_000,
      what: 'the server to record 4 successes',
    });
  });

  it('retries installs whose restart rolled back, without counting the retries as repeats', async () => {
    // Shared draws with period 7; a plan takes 6 (apply, download, fail, crash, hang, rollback), so
    // the rollback draws walk all seven values and 3 in 7 restarts roll back.
    const draws = [0.05, 0.65, 0.35, 0.95, 0.2, 0.8, 0.5];
    let next = 0;
    const fleet = startFleet({
      prefix: 'rollback',
      devices: 6,
      faults: { rollbackRate: 0.5 },
      random: () => draws[next++ % draws.length]!,
    });
    await waitFor(() => fleet.summary().connected === 6, { timeoutMs: 20_000 });
    await rollOut('2.3.0', { maxAttempts: 20, retryBackoff: { baseMs: 50, maxMs: 200 } });
    await waitFor(() => fleet.summary().firmware['2.3.0'] === 6 && fleet.busy === 0, {
      timeoutMs: 45_000,
      what: 'all six to run 2.3.0',
    });

    const summary = fleet.summary();
    expect(summary.rollbacks).toBeGreaterThan(0);
    // Every install was accepted as installed; the rolled-back ones were installed again.
    expect(summary.installsDone).toBe(6 + summary.rollbacks);
    expect(summary.installsStarted).toBe(summary.installsDone);
    expect(summary).toMatchObject({ installsFailed: 0, installsRepeated: 0, reportsRejected: 0 });
    expect(summary.reboots).toBe(summary.installsDone);
  });

  it('stops installs in flight when their rollout is canceled: devices report "canceled"', async () => {
    // Installs are held (never released): the cancel reaches them mid-install, however long it takes.
    const fleet = startFleet({ prefix: 'cancel', devices: 4, installHold: releasedByCall().hold });
    await waitFor(() => fleet.summary().connected === 4, { timeoutMs: 20_000 });
    const rollout = await rollOut('2.4.0', { target: targetOf(fleet) });
    await waitFor(() => fleet.summary().installsStarted === 4, { timeoutMs: 20_000 });
    await cancelRollout(rollout.id);
    await waitFor(() => fleet.summary().cancelsAccepted === 4, { timeoutMs: 10_000, what: '4 cancels' });
    await settled(fleet);

    expect(fleet.summary()).toMatchObject({
      installsDone: 0,
      cancelsRefused: 0,
      reportsRejected: 0,
      reboots: 0,
      firmware: { '1.0.0': 4 },
    });
    for (const record of fleet.records()) expect(record.completed).toMatchObject([{ outcome: 'canceled' }]);
    await waitFor(async () => (await rolloutOf(rollout.id)).counts.canceled === 4, {
      timeoutMs: 10_000,
      what: 'the server to record 4 cancels',
    });
  });

  it('lets devices that refuse a cancel finish their install', async () => {
    // Installs are held until all three refused the cancel: it reaches them mid-install.
    const { hold, release } = releasedByCall();
    const fleet = startFleet({
      prefix: 'refuse',
      devices: 3,
      faults: { refuseCancelRate: 1 },
      installHold: hold,
    });
    await waitFor(() => fleet.summary().connected === 3, { timeoutMs: 20_000 });
    const rollout = await rollOut('2.4.1', { target: targetOf(fleet) });
    await waitFor(() => fleet.summary().installsStarted === 3, { timeoutMs: 20_000 });
    await cancelRollout(rollout.id);
    await waitFor(() => fleet.summary().cancelsRefused === 3, { timeoutMs: 10_000, what: '3 refusals' });
    release();
    await waitFor(() => fleet.summary().installsDone === 3, { timeoutMs: 20_000, what: 'the installs' });
    await settled(fleet);

    expect(fleet.summary()).toMatchObject({
      cancelsAccepted: 0,
      installsRepeated: 0,
      reportsRejected: 0,
      firmware: { '2.4.1': 3 },
    });
  });

  it('retries failed installs as new attempts, without repeating a successful one', async () => {
    const fleet = startFleet({ prefix: 'retry', devices: 5, faults: { failRate: 0.5 } });
    await waitFor(() => fleet.summary().connected === 5, { timeoutMs: 20_000 });
    await rollOut('2.1.0', { maxAttempts: 20, retryBackoff: { baseMs: 50, maxMs: 200 } });
    await waitFor(() => fleet.summary().installsDone === 5, {
      timeoutMs: 45_000,
      what: 'all five to succeed',
    });
    await settled(fleet);

    const summary = fleet.summary();
    expect(summary.installsStarted).toBe(summary.installsDone + summary.installsFailed);
    expect(summary.installsRepeated).toBe(0);
    expect(summary.reportsRejected).toBe(0);
    expect(summary.firmware).toEqual({ '2.1.0': 5 });
  });

  it('gets hung attempts retried by the ack timeout, and installs each delivery once', async () => {
    // Shared draws with period 7; a plan takes 6 (apply, download, fail, crash, hang, rollback), so
    // the hang draws walk all seven values and 3 in 7 attempts hang.
    const draws = [0.05, 0.65, 0.35, 0.95, 0.2, 0.8, 0.5];
    let next = 0;
    // Only the hung attempts time out: the ack timeout is a minute, and each attempt that goes silent
    // is made overdue in Redis. A short real timeout would also fail slow restarts (verifying).
    const redisClient = connectTestRedis(redis.url, { name: 'sim-test-clock' });
    const expired: Promise<void>[] = [];
    try {
      const fleet = startFleet({
        prefix: 'hang',
        devices: 6,
        faults: { hangRate: 0.5 },
        random: () => draws[next++ % draws.length]!,
        onEvent: (event) => {
          // Sent once its `installing` report landed: nothing of this attempt moves its deadline again.
          if (event.type === 'install-hung')
            expired.push(expireAttempt(redisClient, event.deliveryId, event.deviceId));
        },
      });
      await waitFor(() => fleet.summary().connected === 6, { timeoutMs: 20_000 });
      await rollOut('2.2.0', {
        ackTimeoutMs: 60_000,
        maxAttempts: 20,
        retryBackoff: { baseMs: 50, maxMs: 200 },
      });
      await waitFor(() => fleet.summary().installsDone === 6, {
        timeoutMs: 45_000,
        what: 'all six to succeed',
      });
      await settled(fleet);
      await Promise.all(expired);

      const summary = fleet.summary();
      expect(summary.installsHung).toBeGreaterThan(0);
      expect(expired).toHaveLength(summary.installsHung);
      expect(summary.installsStarted).toBe(summary.installsDone + summary.installsHung);
      expect(summary).toMatchObject({ installsFailed: 0, installsRepeated: 0, reportsRejected: 0 });
      expect(summary.firmware).toEqual({ '2.2.0': 6 });
    } finally {
      redisClient.disconnect();
    }
  });

  it('refuses a device with a wrong token, which then stops instead of reconnecting', async () => {
    const fleet = startFleet({ prefix: 'intruder', devices: 1, enrollToken: 'not-the-enroll-token' });
    await waitFor(() => fleet.allRejected, { timeoutMs: 10_000, what: 'the device to be rejected' });

    // Final, not sampled: a rejected device has no reconnect scheduled and never connects again.
    expect(fleet.devices[0]).toMatchObject({ state: 'rejected', scheduled: 0 });
    const summary = fleet.summary();
    expect(summary).toMatchObject({
      rejectedDevices: 1,
      enrollments: 0,
      connects: 0,
      connected: 0,
      reconnects: 0,
    });
    expect(fleet.devices[0]?.record().rejection).toMatch(/refused/);
  });

  it('enrolls once: a restart with the secrets it got connects without enrolling, a second enrollment is refused', async () => {
    const credentials = Credentials.inMemory();
    const first = startFleet({ prefix: 'enroll', devices: 3, credentials });
    await waitFor(() => first.summary().connected === 3, { timeoutMs: 20_000, what: '3 devices to enroll' });
    expect(first.summary()).toMatchObject({ enrollments: 3, rejectedDevices: 0 });
    await first.stop();

    const again = startFleet({ prefix: 'enroll', devices: 3, credentials });
    await waitFor(() => again.summary().connected === 3, {
      timeoutMs: 20_000,
      what: '3 devices to reconnect',
    });
    expect(again.summary()).toMatchObject({ enrollments: 0, rejectedDevices: 0 });
    await again.stop();

    // Without its secret, an enrolled id cannot enroll again.
    const forgetful = startFleet({ prefix: 'enroll', devices: 1 });
    await waitFor(() => forgetful.allRejected, {
      timeoutMs: 10_000,
      what: 'the second enrollment to be refused',
    });
    expect(forgetful.summary()).toMatchObject({ enrollments: 0, connects: 0 });
  });

  it('stops a device whose credentials are revoked: closed (4001), re-checked once, refused', async () => {
    const fleet = startFleet({ prefix: 'revoked', devices: 2 });
    await waitFor(() => fleet.summary().connected === 2, { timeoutMs: 20_000 });
    const admin = createAdminClient(pods[0]!.url, ADMIN_TOKEN);
    try {
      await admin.client.devices.credentials.revoke.mutate({ deviceId: 'revoked-0001' });
    } finally {
      admin.close();
    }
    const device = fleet.device('revoked-0001')!;
    await waitFor(() => device.rejected, { timeoutMs: 10_000, what: 'the revoked device to stop' });

    // Final, not sampled: a rejected device has no reconnect scheduled and never connects again.
    expect(device.scheduled).toBe(0);
    expect(fleet.summary()).toMatchObject({ rejectedDevices: 1, connected: 1, replaced: 0 });
    expect(device.record().counters.reconnects).toBe(1);
    expect(fleet.device('revoked-0002')?.state).toBe('online');
  });

  it('stops an instance replaced by a newer connection of the same device (4002), without reconnecting', async () => {
    const credentials = Credentials.inMemory();
    const older = startFleet({ prefix: 'twin', devices: 1, credentials });
    await waitFor(() => older.summary().connected === 1, { timeoutMs: 20_000 });
    const newer = startFleet({ prefix: 'twin', devices: 1, credentials });
    await waitFor(() => older.devices[0]?.state === 'replaced', {
      timeoutMs: 10_000,
      what: 'the replacement',
    });
    await waitFor(() => newer.summary().connected === 1, { timeoutMs: 10_000, what: 'the newer instance' });

    // Final, not sampled: a replaced device has no reconnect scheduled and never connects again.
    expect(older.devices[0]?.scheduled).toBe(0);
    expect(older.summary()).toMatchObject({ replaced: 1, rejectedDevices: 0, connected: 0, reconnects: 0 });
    expect(newer.summary()).toMatchObject({ connected: 1, replaced: 0 });
  });

  it('leaves a draining pod (SIGTERM) for the other one, and every install still lands exactly once', async () => {
    const [a, b] = pods as [PodProcess, PodProcess];
    // Installs are held until every device left pod a: the drain comes mid-install, by construction.
    const { hold, release } = releasedByCall();
    const fleet = startFleet({ prefix: 'drain', devices: 10, installHold: hold });
    await waitFor(() => fleet.summary().connected === 10, { timeoutMs: 20_000 });
    await rollOut('2.5.0', {}, b);
    await waitFor(() => fleet.summary().installsStarted === 10, {
      timeoutMs: 20_000,
      what: 'installs to start',
    });
    await a.kill('SIGTERM');
    await waitFor(() => onlyOn(fleet, b), { timeoutMs: 20_000, what: 'all ten on pod b' });
    release();
    await waitFor(() => fleet.summary().installsDone === 10, {
      timeoutMs: 45_000,
      what: 'installs to land on pod b',
    });
    // Each restart tries pod a next, finds it gone and comes back to b.
    await settled(fleet);

    expect(fleet.summary()).toMatchObject({ installsStarted: 10, installsRepeated: 0, reportsRejected: 0 });
    expect(fleet.records().every((record) => record.url === b.url)).toBe(true);
    pods[0] = await startPod(redis.url, 'pod-a2');
  });

  // Last: it kills pod a.
  it('fails over when a pod dies mid-install, and every install still lands exactly once', async () => {
    const [a, b] = pods as [PodProcess, PodProcess];
    // Installs are held until every device left pod a: the kill comes mid-install, by construction.
    const { hold, release } = releasedByCall();
    const fleet = startFleet({ prefix: 'failover', devices: 10, installHold: hold });
    await waitFor(() => fleet.summary().connected === 10, { timeoutMs: 20_000 });
    await rollOut('3.0.0', {}, b);
    await waitFor(() => fleet.summary().installsStarted === 10, {
      timeoutMs: 20_000,
      what: 'installs to start',
    });
    await a.kill('SIGKILL');
    await waitFor(() => onlyOn(fleet, b), { timeoutMs: 20_000, what: 'all ten on pod b' });
    release();
    await waitFor(() => fleet.summary().installsDone === 10, {
      timeoutMs: 45_000,
      what: 'installs to land on pod b',
    });
    await settled(fleet);

    const summary = fleet.summary();
    expect(summary).toMatchObject({ installsStarted: 10, installsRepeated: 0, reportsRejected: 0 });
    expect(summary.reconnects).toBeGreaterThanOrEqual(5);
    expect(fleet.records().every((record) => record.url === b.url)).toBe(true);
  });
});
