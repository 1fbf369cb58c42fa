import { waitFor } from '@camfleet/test-support';
import { beforeEach, describe, expect, it } from 'vitest';
import { queueScript } from '../redis/script-calls.js';
import { evalSettle, slotAcquire, slotRelease } from '../redis/scripts/index.js';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('rc');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
const status = (rolloutId: string) => pod.fleet.rollouts.get(rolloutId);

type SlotCall = ['slot_acquire', string, string] | ['slot_release', string, string, 'release', string];

/**
 * Slot scripts run back to back inside Redis, in one MULTI (the keys of a rollout's limits share a
 * slot): what `slots.acquire` and `slots.release` run, with no time passing between them.
 * Answers as `slots.acquire` does (a release's answer has no meaning here).
 */
async function backToBack(calls: SlotCall[]) {
  const multi = pod.redis.multi();
  for (const call of calls) {
    const [, rolloutId, deviceId] = call;
    const args =
      call[0] === 'slot_acquire'
        ? slotAcquire.args({ rolloutId, deviceId }, pod.keys)
        : slotRelease.args({ rolloutId, deviceId, action: call[3], finalState: call[4] }, pod.keys);
    queueScript(multi, call[0], args);
  }
  const replies = (await multi.exec()) ?? [];
  return replies.map(([error, reply], i) => {
    if (error) throw error;
    return calls[i]?.[0] === 'slot_acquire'
      ? slotAcquire.decode(reply, { rolloutId: '', deviceId: '' })
      : { granted: false, retryAfterMs: 0, fresh: false };
  });
}

/**
 * Creates a rollout with `devices` connecting just after its attach, so their work waits queued for
 * the pod's claims, one at a time below (devices connected and idle at the attach are offered there).
 */
async function connectingAfter<T>(devices: string[], create: () => Promise<T>): Promise<T> {
  for (const id of devices) await pod.register(id, { online: false });
  const created = await create();
  for (const id of devices) await pod.register(id);
  return created;
}

/** Claims and reports success for every device that has an offer of this rollout now. */
async function succeedAll(deviceIds: string[], rolloutId: string): Promise<number> {
  let done = 0;
  for (const id of deviceIds) {
    const offer = await pod.claim(id);
    if (offer?.rolloutId === rolloutId && !offer.slot) {
      await pod.report(id, rolloutId, offer.attempt, 'succeeded');
      done++;
    }
  }
  return done;
}

describe('targeting', () => {
  it('targets a label selector, lets later matches join and drops devices that stop matching', async () => {
    await pod.register('berlin-1', { labels: { site: 'berlin', tier: 'canary' } });
    await pod.register('berlin-prod', { labels: { site: 'berlin', tier: 'prod' } });
    await pod.register('paris-1', { labels: { site: 'paris' } });
    const patch = await pod.publish();
    const rollout = await pod.rollout(patch.id, {
      target: { kind: 'selector', selector: 'site=berlin,tier!=prod' },
    });
    expect(rollout.targeted).toBe(1);

    await pod.register('berlin-2', { labels: { site: 'berlin' } });
    expect((await status(rollout.id)).targeted).toBe(2);
    // berlin-2 moves to prod before it started: it no longer belongs to the rollout.
    await pod.register('berlin-2', { labels: { site: 'berlin', tier: 'prod' } });
    expect((await status(rollout.id)).targeted).toBe(1);
    expect(await pod.claim('paris-1')).toBeNull();
    expect((await pod.claim('berlin-1'))?.rolloutId).toBe(rollout.id);
  });

  it('targets a device list; listed devices that register later join, unless the rollout is a snapshot', async () => {
    await pod.register('a');
    const patch = await pod.publish();
    const continuous = await pod.rollout(patch.id, { target: { kind: 'devices', deviceIds: ['a', 'b'] } });
    const snapshot = await pod.rollout(patch.id, {
      target: { kind: 'devices', deviceIds: ['a', 'b'] },
      snapshot: true,
    });
    expect(continuous.targeted).toBe(1);
    await pod.register('b');
    await pod.register('c');
    expect((await status(continuous.id)).targeted).toBe(2);
    expect((await status(snapshot.id)).targeted).toBe(1);
  });

  it('supersedes: queued deliveries of older rollouts are canceled, running ones finish', async () => {
    const old = await connectingAfter(['x', 'y'], async () => pod.rollout((await pod.publish()).id));
    await pod.claim('x');
    const newer = await pod.rollout((await pod.publish()).id, { supersede: true });
    const before = await status(old.id);
    expect(before.counts).toMatchObject({ offered: 1, canceled: 1 });
    const y = await pod.fleet.inventory.get('y');
    expect(y.deliveries.find((d) => d.rolloutId === old.id)?.state).toBe('canceled');
    expect(y.history.find((h) => h.to === 'canceled')?.error).toBe(`superseded by ${newer.id}`);
    expect(await pod.report('x', old.id, 1, 'succeeded')).toBeTruthy();
    expect((await pod.claim('x'))?.rolloutId).toBe(newer.id);
  });
});

describe('waves', () => {
  it('puts each device in a stable wave, in proportion, and offers only open waves', async () => {
    const fleet = ids('w', 200);
    const rollout = await connectingAfter(fleet, async () =>
      pod.rollout((await pod.publish()).id, { waves: [10, 50, 100], advance: 'manual' }),
    );
    const waveOf = async (id: string) => Number((await pod.delivery(rollout.id, id)).wave);
    const first = await Promise.all(fleet.map(waveOf));
    // Re-attaching (what a repair does) moves nobody.
    await pod.reattach(rollout.id);
    expect(await Promise.all(fleet.map(waveOf))).toEqual(first);
    const inWave = (w: number) => first.filter((x) => x === w).length;
    expect(inWave(0)).toBeGreaterThan(5);
    expect(inWave(0)).toBeLessThan(40);
    expect(inWave(0) + inWave(1)).toBeGreaterThan(70);
    expect(inWave(0) + inWave(1)).toBeLessThan(130);

    const s = await status(rollout.id);
    expect(s.waveCounts.map((c) => c.queued)).toEqual([inWave(0), inWave(1), inWave(2)]);
    expect(s.gate).toEqual({ kind: 'operator', wave: 1 });
    expect(await succeedAll(fleet, rollout.id)).toBe(inWave(0));

    await pod.fleet.rollouts.advance(rollout.id, 'ops');
    expect(await succeedAll(fleet, rollout.id)).toBe(inWave(1));
  });

  it('opens the next wave by itself once the open one succeeded enough', async () => {
    const fleet = ids('auto', 60);
    for (const id of fleet) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish()).id, { waves: [20, 100] });
    const canary = await succeedAll(fleet, rollout.id);
    expect((await status(rollout.id)).wave).toBe(0);
    await pod.fleet.controller.evaluate(rollout.id);
    expect((await status(rollout.id)).wave).toBe(1);
    expect(await succeedAll(fleet, rollout.id)).toBe(60 - canary);
    expect((await status(rollout.id)).status).toBe('completed');
  });

  it('soaks a wave before opening the next', async () => {
    const fleet = ids('soak', 30);
    for (const id of fleet) await pod.register(id);
    // A soak of a minute: the evaluations below all fall inside it however slow the machine is.
    const soakMs = 60_000;
    const rollout = await pod.rollout((await pod.publish()).id, { waves: [30, 100], soakMs });
    await succeedAll(fleet, rollout.id);
    await pod.fleet.controller.evaluate(rollout.id);
    const soaking = await status(rollout.id);
    expect(soaking.gate).toMatchObject({ kind: 'soak', wave: 0 });
    await pod.fleet.controller.evaluate(rollout.id);
    expect((await status(rollout.id)).wave).toBe(0);
    // The soak passes: only the time moves (the wave met its threshold one soak earlier).
    const metAt = Number(await pod.redis.hget(pod.keys.rollout(rollout.id), 'waveMetAt'));
    expect(metAt).toBeGreaterThan(0);
    await pod.redis.hset(pod.keys.rollout(rollout.id), 'waveMetAt', metAt - soakMs);
    const soaked = await status(rollout.id);
    const until = soaked.gate?.kind === 'soak' ? soaked.gate.until : Number.POSITIVE_INFINITY;
    expect(until).toBe(metAt);
    await waitFor(
      async () => {
        await pod.fleet.controller.evaluate(rollout.id);
        return (await status(rollout.id)).wave === 1;
      },
      { what: 'the soak to end' },
    );
    // It opened no earlier than the soak's end, by the clock the controller uses (Redis time).
    const [seconds, micros] = await pod.redis.time();
    expect(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)).toBeGreaterThanOrEqual(until);
  });
});

describe('health gates', () => {
  async function failing(onFailure: 'pause' | 'abort') {
    const fleet = ids(onFailure, 12);
    const rollout = await connectingAfter(fleet, async () =>
      pod.rollout((await pod.publish()).id, {
        failureThreshold: 0.2,
        minSample: 5,
        maxAttempts: 1,
        onFailure,
      }),
    );
    // 5 devices finish: 2 fail (40% > 20%); 2 more are still installing.
    for (const [i, id] of fleet.slice(0, 7).entries()) {
      const offer = await pod.claim(id);
      if (i < 2) await pod.report(id, rollout.id, offer!.attempt, 'failed', 'boot loop');
      else if (i < 5) await pod.report(id, rollout.id, offer!.attempt, 'succeeded');
      else await pod.report(id, rollout.id, offer!.attempt, 'installing');
    }
    await pod.fleet.controller.evaluate(rollout.id);
    return { fleet, rollout: await status(rollout.id) };
  }

  it('pauses when failures pass the threshold; nothing new starts until resumed', async () => {
    const { fleet, rollout } = await failing('pause');
    expect(rollout.status).toBe('paused');
    expect(rollout.statusBy).toBe('camfleet');
    expect(rollout.reason).toMatch(/2 of 5 completed failed \(40% > 20%\)/);
    expect(rollout.gate).toMatchObject({ kind: 'paused' });
    expect(await pod.claim(fleet[8]!)).toBeNull();
    // In flight carries on.
    expect(await pod.report(fleet[5]!, rollout.id, 1, 'succeeded')).toBeTruthy();
    await pod.fleet.rollouts.resume(rollout.id, 'ops');
    expect((await pod.claim(fleet[8]!))?.rolloutId).toBe(rollout.id);
  });

  it('aborts: queued deliveries are canceled, in-flight ones asked to stop', async () => {
    const { fleet, rollout } = await failing('abort');
    expect(rollout.status).toBe('aborted');
    expect(rollout.counts).toMatchObject({ queued: 0, canceled: 5, installing: 2, failed: 2, succeeded: 3 });
    expect(await pod.claim(fleet[5]!)).toMatchObject({ cancel: true });
    expect(await pod.fleet.rollouts.resume(rollout.id, 'ops').catch((e: Error) => e.message)).toMatch(
      /only a paused rollout can be resumed; it is aborted/,
    );
  });
});

describe('pause and retries', () => {
  it('lets other rollouts go first while paused, and keeps a retry’s backoff after resume', async () => {
    await pod.register('cam');
    // A backoff of a minute: everything below happens during it however slow the machine is.
    const first = await pod.rollout((await pod.publish()).id, {
      retryBackoff: { baseMs: 60_000, maxMs: 60_000 },
    });
    const second = await pod.rollout((await pod.publish()).id);
    await pod.claim('cam');
    await pod.report('cam', first.id, 1, 'failed', 'flash error');
    const { retryAt } = await pod.delivery(first.id, 'cam');
    await pod.fleet.rollouts.pause(first.id, 'ops');
    // The paused rollout's retry gives way: the device gets the second rollout meanwhile.
    const other = await pod.claim('cam');
    expect(other?.rolloutId).toBe(second.id);
    await pod.report('cam', second.id, 1, 'succeeded');
    await pod.fleet.rollouts.resume(first.id, 'ops');
    // The retry keeps its backoff across the pause: the same retry time, still waiting.
    expect(await pod.claim('cam')).toBeNull();
    expect((await pod.delivery(first.id, 'cam')).retryAt).toBe(retryAt);
    // The backoff passes: only the time moves (the retry time is put in the past, the device due).
    await pod.redis.hset(pod.keys.delivery(first.id, 'cam'), 'retryAt', 1);
    await pod.redis.zadd(pod.keys.bucketOfDevice('cam').due, 1, 'cam');
    expect(await pod.claim('cam')).toMatchObject({ rolloutId: first.id, attempt: 2 });
  });
});

describe('the fleet-wide revision count (what pods watch for lost broadcasts)', () => {
  it('moves with every change to any rollout, and not with a repeated one', async () => {
    const revisions = async () => Number((await pod.redis.get(pod.keys.rolloutRevisions)) ?? 0);
    const a = await pod.rollout((await pod.publish()).id);
    const b = await pod.rollout((await pod.publish()).id, { waves: [50, 100] });
    const start = await revisions();
    await pod.fleet.rollouts.pause(a.id, 'ops');
    expect(await revisions()).toBe(start + 1);
    await pod.fleet.rollouts.pause(a.id, 'ops');
    expect(await revisions()).toBe(start + 1);
    await pod.fleet.rollouts.advance(b.id, 'ops');
    await pod.fleet.rollouts.cancel(a.id, 'ops');
    expect(await revisions()).toBe(start + 3);
  });
});

describe('verified success', () => {
  it('succeeds only when the device comes back running the patch version', async () => {
    await pod.register('good', { firmware: '1.0' });
    await pod.register('bad', { firmware: '1.0' });
    const patch = await pod.publish('2.0');
    const rollout = await pod.rollout(patch.id, { retryBackoff: { baseMs: 10, maxMs: 10 } });
    for (const id of ['good', 'bad']) {
      await pod.claim(id);
      expect(await pod.report(id, rollout.id, 1, 'installed')).toBeTruthy();
    }
    expect((await status(rollout.id)).counts.verifying).toBe(2);
    await pod.register('good', { firmware: '2.0' });
    await pod.register('bad', { firmware: '1.0' });
    const s = await status(rollout.id);
    expect(s.counts).toMatchObject({ succeeded: 1, queued: 1, verifying: 0 });
    const bad = await pod.fleet.inventory.get('bad');
    expect(bad.deliveries[0]).toMatchObject({ state: 'queued', failures: 1 });
    expect(bad.deliveries[0]?.lastError).toBe('rolled back: device came back running 1.0, expected 2.0');
    expect(bad.device.firmwareVersion).toBe('1.0');
  });

  it('checks the version a device says it runs when it reports success without a restart', async () => {
    await pod.register('cam');
    const rollout = await pod.rollout((await pod.publish('3.0')).id);
    await pod.claim('cam');
    const reply = await pod.report('cam', rollout.id, 1, 'succeeded', '', '2.9');
    expect(reply).toMatchObject({ ok: true, state: 'queued' });
  });
});

describe('limits', () => {
  it('leases at most maxInFlight slots, and grants a freed one again', async () => {
    const fleet = ids('cap', 5);
    for (const id of fleet) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish()).id, { maxInFlight: 2 });
    const granted = [];
    for (const id of fleet) {
      const need = await pod.claim(id);
      expect(need?.slot).toBe(rollout.id);
      granted.push((await pod.fleet.slots.acquire(rollout.id, id)).granted);
    }
    expect(granted).toEqual([true, true, false, false, false]);
    // Asking again for a device that holds a slot keeps that slot: granted, but not a new one.
    expect(await pod.fleet.slots.acquire(rollout.id, fleet[0]!)).toMatchObject({
      granted: true,
      fresh: false,
    });
    expect((await pod.claim(fleet[0]!, rollout.id))?.attempt).toBe(1);
    await pod.fleet.slots.release(rollout.id, fleet[0]!, 'release', 'succeeded');
    expect((await pod.fleet.slots.acquire(rollout.id, fleet[2]!)).granted).toBe(true);
  });

  it('paces starts at maxPerMinute with a one-second burst', async () => {
    const fleet = ids('rate', 5);
    for (const id of fleet) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish()).id, { maxPerMinute: 120 });
    // All five asks back to back inside Redis (one MULTI): no refill between them, however the
    // client is scheduled.
    const answers = await backToBack(fleet.map((id) => ['slot_acquire', rollout.id, id]));
    // 120/min = 2 per second: a burst of 2, then one every 500 ms.
    expect(answers.map((a) => a.granted)).toEqual([true, true, false, false, false]);
    expect(answers[2]?.retryAfterMs).toBeGreaterThan(0);
    expect(answers[2]?.retryAfterMs).toBeLessThanOrEqual(500);
  });

  it('ramps the rate up as deliveries succeed', async () => {
    const fleet = ids('ramp', 8);
    for (const id of fleet) await pod.register(id);
    // 6/min to start (a burst of 1, a token every 10 s), doubled every 2 successes, at most 24/min.
    const rollout = await pod.rollout((await pod.publish()).id, {
      maxPerMinute: 24,
      ramp: { startPerMinute: 6, factor: 2, everySuccesses: 2 },
    });
    // Back to back inside Redis (one MULTI): the token bucket sees no time pass between the asks,
    // so each wait below is the rate's alone.
    const [first, slow, , , faster] = await backToBack([
      ['slot_acquire', rollout.id, fleet[0]!],
      ['slot_acquire', rollout.id, fleet[1]!],
      ['slot_release', rollout.id, fleet[0]!, 'release', 'succeeded'],
      ['slot_release', rollout.id, fleet[1]!, 'release', 'succeeded'],
      ['slot_acquire', rollout.id, fleet[1]!],
    ]);
    expect(first?.granted).toBe(true);
    expect(slow?.granted).toBe(false);
    // 6/min: the next token is (nearly) 10 s away.
    expect(slow?.retryAfterMs).toBeGreaterThan(5_000);
    // Two successes: 12/min now; the wait for the next token halves.
    expect(faster?.granted).toBe(false);
    expect(faster?.retryAfterMs).toBeGreaterThan(0);
    expect(faster?.retryAfterMs).toBeLessThanOrEqual(5_000);
  });
});

describe('gate evaluations', () => {
  it('a finished rollout leaves the fallback schedule; a trigger meanwhile is kept, and resuming queues it again', async () => {
    await pod.register('ev-1');
    const rollout = await pod.rollout((await pod.publish()).id);
    const queued = () => pod.redis.zscore(pod.keys.evalQueue, rollout.id);
    // Open deliveries: evaluated, and pushed back to be looked at again (the fallback).
    await pod.fleet.controller.round();
    expect(Number(await queued())).toBeGreaterThan(0);
    expect((await pod.report('ev-1', rollout.id, 1, 'succeeded')).ok).toBe(true);
    // What a pod does when a delivery finishes: due at once.
    await pod.redis.zadd(pod.keys.evalQueue, 0, rollout.id);
    expect((await status(rollout.id)).status).toBe('completed');
    await pod.fleet.controller.round();
    expect(await queued()).toBeNull();

    // Only the fallback entry goes: a trigger that came after the claim stays.
    const [seconds] = await pod.redis.time();
    const now = Number(seconds) * 1000;
    await pod.redis.zadd(pod.keys.evalQueue, 0, rollout.id);
    expect(await pod.scripts.run(evalSettle, { rolloutId: rollout.id, seenAt: now, snapshot: false })).toBe(
      false,
    );
    expect(await queued()).toBe('0');
    await pod.redis.zadd(pod.keys.evalQueue, now + 5_000, rollout.id);
    expect(await pod.scripts.run(evalSettle, { rolloutId: rollout.id, seenAt: now, snapshot: false })).toBe(
      true,
    );
    expect(await queued()).toBeNull();

    await pod.fleet.rollouts.transition(rollout.id, 'pause', 'tester');
    await pod.fleet.rollouts.transition(rollout.id, 'resume', 'tester');
    expect(await queued()).toBe('0');
  });
});
