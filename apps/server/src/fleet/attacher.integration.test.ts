import { CreateRolloutInput } from '@camfleet/contracts';
import { connectTestRedis, waitFor } from '@camfleet/test-support';
import { beforeEach, describe, expect, it } from 'vitest';
import { attachClaim, rolloutAttach } from '../redis/scripts/index.js';
import { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('at');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
/** Buckets the pod that died had claimed, and how long its claim holds them. */
const HELD = 16;
const DEAD_LEASE_MS = 400;

/**
 * A rollout created by a pod that then died holding `HELD` buckets' leases, before it attached any
 * of them (a pod that attached some and died is the same for Redis: the script of a bucket ran
 * whole or not at all, and running it again creates nothing twice).
 */
async function createdByDeadPod(
  settings: Parameters<ScriptDriver['rollout']>[1] = {},
  leaseMs = DEAD_LEASE_MS,
) {
  const dead = new ScriptDriver(suite.server().url, pod.keys.prefix, 'pod-dead');
  try {
    dead.fleet.attacher.stop();
    const patch = await dead.publish();
    const created = await dead.fleet.rollouts.create(
      CreateRolloutInput.parse({ patchId: patch.id, ...settings }),
      'ops',
    );
    const { buckets: held } = await dead.scripts.run(attachClaim, {
      rolloutId: created.id,
      span: dead.keys.allBuckets.length,
      count: HELD,
      leaseMs,
    });
    return { created, held };
  } finally {
    await dead.close();
  }
}

/** The buckets of `held`'s devices, and the others. */
function split(devices: string[], held: number[]) {
  const inHeld = devices.filter((id) => held.includes(pod.keys.bucketOfDevice(id).n));
  return { inHeld, rest: devices.filter((id) => !inHeld.includes(id)) };
}

describe('background attach', () => {
  it('returns from create at once; the other pods finish what a dead pod held, nothing twice or missed', async () => {
    const fleet = ids('cam', 400);
    for (const id of fleet) await pod.register(id, { online: false });
    // Held past a second: the attach tells its progress before its end.
    const { created, held } = await createdByDeadPod({}, 1_100);
    expect(created.attach).toEqual({ buckets: 0, of: pod.keys.allBuckets.length });
    expect(created.targeted).toBe(0);
    expect(held).toHaveLength(HELD);

    // Pods hear a broadcast when a bucket is taken over (the dead pod's offers may be unrelayed).
    const listener = connectTestRedis(suite.server().url, { subscriber: true });
    const broadcasts: string[] = [];
    listener.on('smessage', (_channel: string, message: string) => broadcasts.push(message));
    await listener.ssubscribe(pod.keys.broadcastChannel);

    // This pod takes every bucket nobody holds, and leaves the held ones to their lease.
    await pod.fleet.attacher.kick();
    const midway = await pod.fleet.rollouts.get(created.id);
    const { inHeld, rest } = split(fleet, held);
    expect(midway.attach).toEqual({ buckets: 64 - HELD, of: 64 });
    expect(midway.targeted).toBe(rest.length);
    expect(midway.status).toBe('active');

    expect(broadcasts).toEqual([]);
    const done = await pod.attached(created.id);
    await waitFor(() => broadcasts.includes(''), { what: 'a broadcast after the takeover' });
    await listener.quit();
    expect(inHeld.length).toBeGreaterThan(0);
    expect(done.targeted).toBe(fleet.length);
    expect(done.counts.queued).toBe(fleet.length);
    // Every device has one delivery, queued once.
    for (const id of fleet) {
      const { history } = await pod.fleet.inventory.get(id);
      expect(history.filter((h) => h.rolloutId === created.id).map((h) => h.to)).toEqual(['queued']);
    }
    const events = await pod.fleet.events.list({ rolloutId: created.id, limit: 100 });
    const told = events.filter((e) => e.kind === 'rollout').map((e) => `${e.type} ${e.reason ?? ''}`);
    expect(told).toContain('attached attached 64/64 buckets');
    expect(told).toContain(`attaching attached ${64 - HELD + 1}/64 buckets`);
    // The attach's own keys are gone.
    expect(await pod.redis.exists(pod.keys.attachJob(created.id), pod.keys.attachLeases(created.id))).toBe(0);
  });

  it('cancel during the attach: the buckets attached later get nothing, none is left queued', async () => {
    const fleet = ids('cx', 300);
    for (const id of fleet) await pod.register(id, { online: false });
    const { created, held } = await createdByDeadPod();
    await pod.fleet.attacher.kick();
    const { inHeld, rest } = split(fleet, held);
    await pod.fleet.rollouts.cancel(created.id, 'ops');
    const done = await pod.attached(created.id);
    expect(done.status).toBe('canceled');
    expect(done.counts).toMatchObject({ queued: 0, canceled: rest.length });
    expect(done.targeted).toBe(rest.length);
    for (const id of inHeld) expect(await pod.delivery(created.id, id)).toEqual({});
  });

  it('pause during the attach: buckets attached later offer nothing until resumed', async () => {
    const fleet = ids('px', 200);
    for (const id of fleet) await pod.register(id);
    const { created, held } = await createdByDeadPod();
    await pod.fleet.attacher.kick();
    const { inHeld } = split(fleet, held);
    // A pod read the rollout before the pause, and attaches a bucket after it.
    const readBefore = await pod.fleet.attacher.planOf(created.id);
    await pod.fleet.rollouts.pause(created.id, 'ops');
    const offeredBefore = pod.relayed.flatMap((group) => group.devices).length;
    for (const bucket of held)
      if (readBefore) await pod.fleet.attacher.attachBucket(created.id, bucket, readBefore);
    const done = await pod.attached(created.id);
    expect(done.status).toBe('paused');
    // The held buckets' idle, connected devices were not offered it in their attach.
    expect(pod.relayed.flatMap((group) => group.devices).length).toBe(offeredBefore);
    for (const id of inHeld) expect((await pod.delivery(created.id, id)).state).toBe('queued');
    await pod.fleet.rollouts.resume(created.id, 'ops');
    const someone = inHeld[0] ?? '';
    expect(await pod.claim(someone)).toMatchObject({ rolloutId: created.id, attempt: 1 });
  });

  it('judges no wave until every bucket holds its devices', async () => {
    const fleet = ids('wv', 300);
    for (const id of fleet) await pod.register(id, { online: false });
    const { created } = await createdByDeadPod({ waves: [20, 100], successThreshold: 0.9 });
    await pod.fleet.attacher.kick();
    // Every wave-0 device attached so far succeeds: the wave would look met.
    for (const id of fleet) await pod.register(id);
    let succeeded = 0;
    for (const id of fleet) {
      const offer = await pod.claim(id);
      if (offer?.rolloutId !== created.id) continue;
      await pod.report(id, created.id, offer.attempt, 'succeeded');
      succeeded++;
    }
    expect(succeeded).toBeGreaterThan(0);
    await pod.fleet.controller.evaluate(created.id);
    const judged = await pod.fleet.rollouts.get(created.id);
    expect(judged.attach).not.toBeNull();
    expect(judged.wave).toBe(0);
  });

  it('attaches a bucket a page of devices per script call, each device once', async () => {
    const bucket = pod.keys.bucket(0);
    const inBucket = ids('pg', 2000)
      .filter((id) => bucket.holds(id))
      .slice(0, 10);
    for (const id of inBucket) await pod.register(id, { online: false });
    const { created } = await createdByDeadPod();
    const plan = await pod.fleet.attacher.planOf(created.id);
    let after = '';
    const pages: number[] = [];
    do {
      const page = await pod.scripts.run(rolloutAttach, {
        bucket,
        rolloutId: created.id,
        graceMs: 1000,
        settings: plan?.settings ?? '',
        after,
        limit: 3,
        deviceIds: [],
      });
      pages.push(page.created);
      after = page.next;
    } while (after !== '');
    expect(pages).toEqual([3, 3, 3, 1]);
    const status = await pod.fleet.rollouts.get(created.id);
    expect(status.targeted).toBe(inBucket.length);
  });

  it('attaches a rollout again without a second delivery (a lease outlived)', async () => {
    const fleet = ids('re', 100);
    for (const id of fleet) await pod.register(id, { online: false });
    const rollout = await pod.rollout((await pod.publish()).id);
    const again = await pod.reattach(rollout.id);
    expect(again.targeted).toBe(fleet.length);
    expect(again.counts.queued).toBe(fleet.length);
  });
});
