import { mastersOf } from '@camfleet/redis';
import { keysEverywhere, testRedisMode, waitFor } from '@camfleet/test-support';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { deviceHash } from '../redis/bucket-layout.js';
import { bucketOf, KeySpace } from '../redis/keys.js';
import { callScript } from '../redis/script-calls.js';
import { deviceCredential, deviceRegister } from '../redis/scripts/index.js';
import { GRACE_MS, type ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { BucketGrowth } from './bucket-growth.js';
import { LayoutFollower } from './layout.js';

const suite = scriptDriverPerTest('grow');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

const DEVICES = Array.from({ length: 80 }, (_, i) => `cam-${i}`);

/** The pod follows the stored layout as a live pod does (a lease, a pass every few ms). */
async function followingPod(): Promise<{ stop: () => void }> {
  const [seconds] = await pod.redis.time();
  await pod.redis.zadd(pod.keys.nodes, Number(seconds) * 1000 + 600_000, pod.instance);
  const follower = new LayoutFollower({ redis: pod.redis, keys: pod.keys, instance: pod.instance });
  await follower.pass();
  const timer = setInterval(() => void follower.pass().catch(() => undefined), 20);
  return { stop: () => clearInterval(timer) };
}

/** Scripts refused as MOVING so far (INFO errorstats, every master). */
async function refusals(): Promise<number> {
  let total = 0;
  for (const master of mastersOf(pod.redis)) {
    const stats = await master.info('errorstats');
    total += Number(/errorstat_MOVING:count=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return total;
}

function grow(to: number) {
  const growth = new BucketGrowth({
    redis: pod.redis,
    keys: new KeySpace(pod.keys.prefix),
    log: pino({ level: 'silent' }),
    // The test Cluster has a replica per master: the copies wait for it, as with WAIT_REPLICAS=1.
    replicaWait: { replicas: testRedisMode() === 'cluster' ? 1 : 0, timeoutMs: 10_000 },
  });
  return growth.run(to);
}

/** A rollout to every device: all offered, half downloading, a quarter succeeded. */
async function rolloutUnderWay() {
  for (const id of DEVICES) await pod.register(id);
  const patch = await pod.publish('2.0.0');
  const rollout = await pod.rollout(patch.id);
  for (const [i, id] of DEVICES.entries()) {
    if (i < 40) expect((await pod.report(id, rollout.id, 1, 'downloading')).ok).toBe(true);
    if (i < 20) expect((await pod.report(id, rollout.id, 1, 'succeeded')).ok).toBe(true);
  }
  return rollout;
}

/** What operators see: every device with its deliveries and history, the rollout's counts, the fleet's figures. */
async function views(rolloutId: string) {
  const devices = await Promise.all(DEVICES.map((id) => pod.fleet.inventory.get(id)));
  const { status } = await pod.fleet.rollouts.view(rolloutId);
  const { nodes: _nodes, ...stats } = await pod.fleet.inventory.stats();
  return { devices, counts: status.counts, targeted: status.targeted, stats };
}

describe('growing the bucket count of a live fleet', () => {
  it('moves every device to its new bucket once, and operators see the same fleet', async () => {
    const rollout = await rolloutUnderWay();
    const before = await views(rollout.id);
    const following = await followingPod();
    try {
      const done = await grow(256);
      expect(done).toMatchObject({ count: 256, target: 256 });
      expect(done.movedDevices).toBeGreaterThan(DEVICES.length / 2);
      expect(pod.keys.layout.state).toMatchObject({ count: 256, target: null });
    } finally {
      following.stop();
    }
    expect(await views(rollout.id)).toEqual(before);
    // Each device's record is in its bucket of 256, and nowhere else.
    const records = await keysEverywhere(pod.redis, `${pod.keys.prefix}:{b*}:dev:*`);
    const placed = records.map((key) => {
      const [, bucket, id] = /\{b(\d+)\}:dev:(.*)$/.exec(key) ?? [];
      return { id, bucket: Number(bucket) };
    });
    expect(placed.map((p) => p.id).sort()).toEqual([...DEVICES].sort());
    for (const { id, bucket } of placed) expect(bucket).toBe(deviceHash(id ?? '') % 256);
    // The rollout goes on in the new buckets.
    for (const id of DEVICES.slice(20))
      expect((await pod.report(id, rollout.id, 1, 'succeeded')).ok, id).toBe(true);
    const { status } = await pod.fleet.rollouts.view(rollout.id);
    expect(status.counts).toMatchObject({ succeeded: DEVICES.length, offered: 0, downloading: 0 });
  });

  it('refuses a pod still placing devices by the old layout: no device is created twice', async () => {
    for (const id of DEVICES) await pod.register(id);
    const following = await followingPod();
    try {
      await grow(128);
    } finally {
      following.stop();
    }
    // A pod cut off through the growth, its commands queued from before: the 64-bucket layout.
    const stale = new KeySpace(pod.keys.prefix);
    const moved = DEVICES.find((id) => stale.bucketOfDevice(id).n !== pod.keys.bucketOfDevice(id).n) ?? '';
    const oldBucket = stale.bucketOfDevice(moved);
    const register = deviceRegister.args(
      {
        bucket: oldBucket,
        deviceId: moved,
        model: 'cam-x',
        firmwareVersion: '1.0.0',
        labels: {},
        instance: 'pod-stale',
        connectionId: 'conn-stale',
        graceMs: GRACE_MS,
      },
      stale,
    );
    await expect(callScript(pod.redis, deviceRegister.name, register)).rejects.toThrow(/^MOVING /);
    const provision = deviceCredential.args(
      { bucket: oldBucket, deviceId: moved, action: 'provision', secretDigest: 'x'.repeat(64) },
      stale,
    );
    await expect(callScript(pod.redis, deviceCredential.name, provision)).rejects.toThrow(/^MOVING /);
    expect(await pod.redis.exists(oldBucket.key('device', moved))).toBe(0);
    // The pod that follows the layout registers it where it lives now.
    await pod.register(moved);
    expect((await pod.fleet.inventory.get(moved)).device.online).toBe(true);
  });

  it('serves reports while buckets split: each is applied once, and the counts add up', async () => {
    const rollout = await rolloutUnderWay();
    const following = await followingPod();
    const refusedBefore = await refusals();
    try {
      let grown = false;
      const growing = grow(128).finally(() => {
        grown = true;
      });
      // Every device not finished reports progress, then success, once its bucket's devices are
      // copied (the layout names it split) and before the old copies are gone: a report the old
      // bucket took now would be lost.
      const reports = DEVICES.slice(20).map(async (id) => {
        await waitFor(
          async () =>
            grown || (await pod.redis.sismember(pod.keys.bucketLayoutSplit, String(bucketOf(id)))) === 1,
          { timeoutMs: 60_000, intervalMs: 5, what: `the bucket of ${id} to split` },
        );
        const progress = await pod.report(id, rollout.id, 1, 'installing');
        const outcome = await pod.report(id, rollout.id, 1, 'succeeded');
        return [progress.ok, outcome.ok];
      });
      const [, answers] = await Promise.all([growing, Promise.all(reports)]);
      expect(answers.flat().every(Boolean)).toBe(true);
      // Reports did arrive while their bucket was fenced (and were repeated once it was not).
      expect(await refusals()).toBeGreaterThan(refusedBefore);
    } finally {
      following.stop();
    }
    const { status } = await pod.fleet.rollouts.view(rollout.id);
    expect(status.counts).toMatchObject({ succeeded: DEVICES.length, offered: 0, installing: 0 });
    for (const id of DEVICES) {
      const detail = await pod.fleet.inventory.get(id);
      expect(detail.deliveries.map((d) => d.state)).toEqual(['succeeded']);
      expect(detail.device.firmwareVersion).toBe('2.0.0');
    }
  });

  it('splits no bucket while a rollout is being attached, then gives it to every device', async () => {
    for (const id of DEVICES) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish('3.0.0')).id);
    // As if its attach were still running (it may have reached a new bucket and not the old one).
    await pod.redis.sadd(pod.keys.attaching, rollout.id);
    const waits: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void waits.push(line) });
    const following = await followingPod();
    try {
      const growing = new BucketGrowth({ redis: pod.redis, keys: new KeySpace(pod.keys.prefix), log }).run(
        256,
      );
      const splitSoFar = () => pod.redis.scard(pod.keys.bucketLayoutSplit);
      await waitFor(
        async () =>
          waits.filter((line) => line.includes('being attached')).length >= 3 || (await splitSoFar()) > 0,
        { timeoutMs: 30_000, what: 'the growth to wait for the attach three times (or split)' },
      );
      expect(await splitSoFar()).toBe(0);
      await pod.redis.srem(pod.keys.attaching, rollout.id);
      await growing;
    } finally {
      following.stop();
    }
    for (const id of DEVICES) {
      const { deliveries } = await pod.fleet.inventory.get(id);
      expect(
        deliveries.map((d) => d.rolloutId),
        id,
      ).toEqual([rollout.id]);
    }
  });

  it('keeps an event follower up to date: events of the new buckets reach it', async () => {
    const { seen, stop } = pod.followEvents();
    const layout = await followingPod();
    try {
      await waitFor(() => pod.fleet.events.feed.liveFollowers === 1, { what: 'the follower to follow' });
      await grow(128);
      // A device of a new bucket (64 and up) gets a delivery: its events are in that bucket's stream.
      const id =
        Array.from({ length: 500 }, (_, i) => `late-${i}`).find((d) => pod.keys.bucketOfDevice(d).n >= 64) ??
        '';
      await pod.register(id);
      const rollout = await pod.rollout((await pod.publish('4.0.0')).id);
      await waitFor(
        () => seen.some((e) => e.kind === 'delivery' && e.deviceId === id && e.rolloutId === rollout.id),
        {
          what: `the delivery event of ${id} (bucket ${pod.keys.bucketOfDevice(id).n})`,
        },
      );
    } finally {
      layout.stop();
      await stop();
    }
  });

  it('refuses a count that is not a larger multiple of today’s, and changes nothing', async () => {
    await expect(grow(100)).rejects.toThrow(/multiple of today's 64/);
    await expect(grow(32)).rejects.toThrow(/multiple/);
    expect(await pod.redis.exists(pod.keys.bucketLayout)).toBe(0);
  });
});
