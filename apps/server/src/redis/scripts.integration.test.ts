import { DELIVERY_STATES } from '@camfleet/contracts';
import { keysEverywhere, waitFor } from '@camfleet/test-support';
import { beforeEach, describe, expect, it } from 'vitest';
import { GRACE_MS, ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { bucketOf } from './keys.js';
import { nodeGone, nodeHeartbeat, nodeReap, offerClaimMany } from './scripts/index.js';

const suite = scriptDriverPerTest('t');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

/** The delivery state a report reply names (or the error code). */
function stateOf(reply: Awaited<ReturnType<ScriptDriver['report']>>): string {
  return reply.ok ? reply.state : reply.code;
}

/** A report's reply, as the script gives it. */
const accepted = (state: string, attempt: number, duplicate = false) => ({
  ok: true,
  state,
  attempt,
  duplicate,
  offerable: false,
  slot: '',
});

/** Sum of a rollout's per-bucket counters. */
async function counts(rolloutId: string) {
  return (await pod.fleet.rollouts.get(rolloutId)).counts;
}

describe('device_register', () => {
  it('creates, then updates without moving first-seen', async () => {
    const { firstSeenAt: first } = await pod.register('cam-1');
    await pod.register('cam-1', { firmware: '2.0.0' });
    const detail = await pod.fleet.inventory.get('cam-1');
    expect(detail.device.firstSeenAt).toBe(first);
    expect(detail.device.firmwareVersion).toBe('2.0.0');
    expect(detail.device.online).toBe(true);
    expect(detail.device.node).toBe('pod-a');
  });

  it('loses no registration when many clients race', async () => {
    const clients = Array.from(
      { length: 12 },
      (_, i) => new ScriptDriver(suite.server().url, pod.keys.prefix, `pod-${i}`),
    );
    const ids = Array.from({ length: 600 }, (_, i) => `race-${i}`);
    // Every client registers every device: 7200 concurrent upserts of 600 devices.
    await Promise.all(clients.map((client) => Promise.all(ids.map((id) => client.register(id)))));
    const stats = await pod.fleet.inventory.stats();
    expect(stats.devices).toBe(600);
    expect(stats.online).toBe(600);
    const page = await pod.fleet.inventory.list({ limit: 1000 });
    expect(new Set(page.devices.map((d) => d.id))).toEqual(new Set(ids));
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('a delivery from offer to outcome', () => {
  it('offers, tracks progress and succeeds with exact counters', async () => {
    await pod.register('cam-1', { online: false });
    const patch = await pod.publish();
    const rollout = await pod.rollout(patch.id);
    expect(rollout.counts.queued).toBe(1);
    await pod.register('cam-1');

    const offer = await pod.claim('cam-1');
    expect(offer).toMatchObject({ rolloutId: rollout.id, attempt: 1 });
    expect((await counts(rollout.id)).offered).toBe(1);
    // Claiming again re-sends the same attempt, it does not start another.
    expect(await pod.claim('cam-1')).toMatchObject({ attempt: 1 });

    for (const status of ['downloading', 'installing', 'succeeded'] as const) {
      expect(await pod.report('cam-1', rollout.id, 1, status)).toEqual(accepted(status, 1));
    }
    expect(await counts(rollout.id)).toMatchObject({ succeeded: 1, queued: 0, offered: 0, installing: 0 });
    expect(await pod.claim('cam-1')).toBeNull();
  });

  it('treats a repeated report as a harmless duplicate and never moves progress backwards', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.claim('cam-1');
    await pod.report('cam-1', rollout.id, 1, 'installing');
    expect(await pod.report('cam-1', rollout.id, 1, 'downloading')).toEqual(accepted('installing', 1, true));
    await pod.report('cam-1', rollout.id, 1, 'succeeded');
    expect(await pod.report('cam-1', rollout.id, 1, 'succeeded')).toEqual(accepted('succeeded', 1, true));
    expect(await counts(rollout.id)).toMatchObject({ succeeded: 1, installing: 0 });
  });

  it('moves the deadline on with more progress in the same state: a download longer than the ack timeout stays alive', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, { ackTimeoutMs: 60_000 });
    await pod.claim('cam-1');
    await pod.report('cam-1', rollout.id, 1, 'downloading');
    const key = pod.keys.delivery(rollout.id, 'cam-1');
    const history = (await pod.fleet.inventory.get('cam-1')).history.length;
    expect(history).toBeGreaterThan(0);
    // Only the time moves: the deadline is put where the sweeper would act on it.
    await pod.redis.hset(key, 'deadline', 1);
    expect(await pod.report('cam-1', rollout.id, 1, 'downloading')).toEqual(accepted('downloading', 1));
    const deadline = Number(await pod.redis.hget(key, 'deadline'));
    const [seconds] = await pod.redis.time();
    expect(deadline).toBeGreaterThan(Number(seconds) * 1000 + 30_000);
    expect(Number(await pod.redis.zscore(pod.keys.bucketOfDevice('cam-1').due, 'cam-1'))).toBe(deadline);
    // No transition: no history entry, the counters unchanged.
    expect((await pod.fleet.inventory.get('cam-1')).history).toHaveLength(history);
    expect(await counts(rollout.id)).toMatchObject({ downloading: 1, offered: 0 });
  });

  it('keeps a delivery’s history in its record, newest first and bounded, with no list of its own', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, {
      maxAttempts: 30,
      retryBackoff: { baseMs: 10, maxMs: 10 },
    });
    const key = pod.keys.delivery(rollout.id, 'cam-1');
    for (let attempt = 1; attempt <= 30; attempt++) {
      await waitFor(async () => (await pod.claim('cam-1'))?.attempt === attempt);
      if (attempt === 30) {
        // Created, two transitions per attempt, then this offer: 60 entries, of which the newest 50 are kept.
        const live = await pod.redis.hgetall(key);
        expect(live.hn).toBe('60');
        expect(Object.keys(live).filter((field) => /^h\d+$/.test(field))).toHaveLength(50);
        // Short entries keep the record in Redis's compact encoding (a long value would convert it).
        expect(await pod.redis.call('OBJECT', 'ENCODING', key)).toBe('listpack');
      }
      expect(stateOf(await pod.report('cam-1', rollout.id, attempt, 'failed', `boom ${attempt}`))).toBe(
        attempt < 30 ? 'queued' : 'failed',
      );
    }
    // Created, then two transitions per attempt: 61 entries, of which the newest 50 are kept.
    const { history } = await pod.fleet.inventory.get('cam-1');
    expect(history).toHaveLength(50);
    expect(history[0]).toMatchObject({ rolloutId: rollout.id, attempt: 30, from: 'offered', to: 'failed' });
    expect(history[0]?.error).toBe('boom 30');
    expect(history.at(-1)).toMatchObject({ attempt: 6, from: 'queued', to: 'offered', error: null });
    expect(history.map((h) => h.at)).toEqual([...history.map((h) => h.at)].sort((a, b) => b - a));
    // Finished, it is compacted: the newest 50 entries stay, in the device's archive.
    expect(await pod.redis.exists(key)).toBe(0);
    expect((await pod.delivery(rollout.id, 'cam-1')).hn).toBe('50');
    const bucket = pod.keys.bucketOfDevice('cam-1');
    expect(await pod.redis.exists(bucket.key('history', 'cam-1'))).toBe(0);
  });

  it('counts a rolled-back success once when the device sends it again, and still takes a late real success', async () => {
    await pod.register('cam-1');
    const patch = await pod.publish();
    const rollout = await pod.rollout(patch.id, { retryBackoff: { baseMs: 60_000, maxMs: 60_000 } });
    await pod.claim('cam-1');
    const rolledBack = () => pod.report('cam-1', rollout.id, 1, 'succeeded', '', 'old-version');
    expect(stateOf(await rolledBack())).toBe('queued');
    expect(await rolledBack()).toEqual(accepted('queued', 1, true));
    expect(await pod.delivery(rollout.id, 'cam-1')).toMatchObject({ failures: '1' });
    expect(await pod.report('cam-1', rollout.id, 1, 'succeeded', '', patch.version)).toEqual(
      accepted('succeeded', 1),
    );
  });

  it('rejects stale, finished and unknown reports and changes nothing', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.claim('cam-1');
    const before = await pod.delivery(rollout.id, 'cam-1');

    expect(await pod.report('cam-1', rollout.id, 2, 'succeeded')).toMatchObject({
      ok: false,
      code: 'STALE_ATTEMPT',
    });
    expect(await pod.report('cam-1', 'ro_missing', 1, 'succeeded')).toMatchObject({
      ok: false,
      code: 'NOT_FOUND',
    });
    expect(await pod.delivery(rollout.id, 'cam-1')).toEqual(before);

    await pod.report('cam-1', rollout.id, 1, 'succeeded');
    const done = await pod.delivery(rollout.id, 'cam-1');
    expect(await pod.report('cam-1', rollout.id, 1, 'failed', 'late')).toMatchObject({
      ok: false,
      code: 'DELIVERY_FINISHED',
    });
    expect(await pod.delivery(rollout.id, 'cam-1')).toEqual(done);
  });

  it('retries a failed attempt after backoff and fails the delivery when attempts run out', async () => {
    await pod.register('cam-1');
    // A backoff of a minute: the claim below is made during it however slow the machine is.
    const rollout = await pod.rollout((await pod.publish()).id, {
      maxAttempts: 2,
      retryBackoff: { baseMs: 60_000, maxMs: 60_000 },
    });
    await pod.claim('cam-1');
    expect(await pod.report('cam-1', rollout.id, 1, 'failed', 'disk full')).toEqual(accepted('queued', 1));
    const waiting = await pod.delivery(rollout.id, 'cam-1');
    // Equal jitter: the retry comes between half and all of the backoff.
    const backoff = Number(waiting.retryAt) - Number(waiting.updatedAt);
    expect(backoff).toBeGreaterThanOrEqual(30_000);
    expect(backoff).toBeLessThanOrEqual(60_000);
    // During backoff there is nothing to offer.
    expect(await pod.claim('cam-1')).toBeNull();
    // The backoff passes: only the time moves (the retry time is put in the past, the device due).
    const bucket = pod.keys.bucketOfDevice('cam-1');
    await pod.redis.hset(pod.keys.delivery(rollout.id, 'cam-1'), 'retryAt', 1);
    await pod.redis.zadd(bucket.due, 1, 'cam-1');
    const retry = await pod.claim('cam-1');
    expect(retry?.attempt).toBe(2);
    expect(await pod.report('cam-1', rollout.id, 2, 'failed', 'disk full')).toEqual(accepted('failed', 2));
    const failed = await pod.delivery(rollout.id, 'cam-1');
    expect(failed).toMatchObject({ state: 'failed', failures: '2', lastError: 'disk full' });
    expect(await counts(rollout.id)).toMatchObject({ failed: 1, queued: 0 });
  });

  it('accepts a success that arrives just after its attempt timed out', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, { ackTimeoutMs: 100 });
    await pod.claim('cam-1');
    await waitFor(
      async () => {
        await pod.sweep('cam-1');
        return (await pod.delivery(rollout.id, 'cam-1')).state === 'queued';
      },
      { what: 'the ack timeout' },
    );
    expect(await pod.report('cam-1', rollout.id, 1, 'installing')).toMatchObject({ code: 'STALE_ATTEMPT' });
    expect(await pod.report('cam-1', rollout.id, 1, 'succeeded')).toMatchObject({ ok: true });
    expect(await counts(rollout.id)).toMatchObject({ succeeded: 1, queued: 0 });
  });
});

describe('deadlines', () => {
  it('times out a connected device as a failed attempt, then offers a retry', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, {
      ackTimeoutMs: 100,
      retryBackoff: { baseMs: 10, maxMs: 10 },
    });
    await pod.claim('cam-1');
    const hinted = await waitFor(
      async () => {
        const hints = await pod.sweep('cam-1');
        return hints.some((hint) => hint.deviceId === 'cam-1') ? hints : null;
      },
      { what: 'the sweep to hint the retry' },
    );
    expect(hinted).toEqual([{ deviceId: 'cam-1', instance: 'pod-a' }]);
    const delivery = await pod.delivery(rollout.id, 'cam-1');
    expect(delivery).toMatchObject({
      state: 'queued',
      failures: '1',
      lastError: 'no report within the ack timeout',
    });
    expect(await pod.claim('cam-1')).toMatchObject({ attempt: 2 });
  });

  it('requeues without counting a failure when the device is offline at the deadline', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, { ackTimeoutMs: 100 });
    await pod.claim('cam-1');
    await pod.disconnect('cam-1');
    await waitFor(
      async () => {
        await pod.sweep('cam-1');
        return (await pod.delivery(rollout.id, 'cam-1')).state === 'queued';
      },
      { what: 'the offline timeout' },
    );
    expect((await pod.delivery(rollout.id, 'cam-1')).failures).toBe('0');
    // Offline: nothing is due, nothing is offered.
    expect(await pod.redis.zscore(pod.keys.bucketOfDevice('cam-1').due, 'cam-1')).toBeNull();
    expect(await pod.claim('cam-1')).toBeNull();
    await pod.register('cam-1');
    expect(await pod.claim('cam-1')).toMatchObject({ attempt: 2 });
  });

  it('lets exactly one of two racing pods time out each delivery', async () => {
    const other = new ScriptDriver(suite.server().url, pod.keys.prefix, 'pod-b');
    // All devices in one bucket, so both pods sweep the same due set.
    const ids = Array.from({ length: 4000 }, (_, i) => `dl-${i}`)
      .filter((id) => bucketOf(id) === 7)
      .slice(0, 40);
    await Promise.all(ids.map((id) => pod.register(id)));
    const rollout = await pod.rollout((await pod.publish()).id, {
      ackTimeoutMs: 100,
      retryBackoff: { baseMs: 60_000, maxMs: 60_000 },
    });
    await Promise.all(ids.map((id) => pod.claim(id)));
    await waitFor(async () => {
      await Promise.all([pod.sweep(ids[0]!, 7), other.sweep(ids[0]!, 7), pod.sweep(ids[0]!, 7)]);
      return (await counts(rollout.id)).queued === ids.length;
    });
    for (const id of ids) {
      const d = await pod.delivery(rollout.id, id);
      expect(d.failures).toBe('1');
      const history = await pod.fleet.inventory.get(id);
      expect(history.history.filter((h) => h.from === 'offered' && h.to === 'queued')).toHaveLength(1);
    }
    await other.close();
  });
});

describe('queueing and continuity', () => {
  it('keeps one active delivery per device, in rollout creation order', async () => {
    await pod.register('cam-1');
    const first = await pod.rollout((await pod.publish()).id);
    const second = await pod.rollout((await pod.publish()).id);
    expect((await pod.claim('cam-1'))?.rolloutId).toBe(first.id);
    expect((await pod.claim('cam-1'))?.rolloutId).toBe(first.id);
    await pod.report('cam-1', first.id, 1, 'succeeded');
    expect((await pod.claim('cam-1'))?.rolloutId).toBe(second.id);
  });

  it('claims many devices of one bucket in one call, each as offer_claim would', async () => {
    const ids: string[] = [];
    for (let i = 0; ids.length < 5; i++)
      if (bucketOf(`many-${i}`) === bucketOf('many-0')) ids.push(`many-${i}`);
    const [on1, on2, on3, , moved] = ids as [string, string, string, string, string];
    // Connected after the attach: their work is queued for a claim (an idle device connected at
    // the attach is offered there).
    for (const id of ids) await pod.register(id, { online: false });
    const rollout = await pod.rollout((await pod.publish()).id);
    for (const id of [on1, on2, on3, moved]) await pod.register(id);
    const bucket = pod.keys.bucketOfDevice(on1);
    const claimMany = () =>
      pod.scripts.run(offerClaimMany, {
        bucket,
        graceMs: GRACE_MS,
        sessions: ids.map((id) => ({
          deviceId: id,
          connectionId: id === moved ? 'an-older-connection' : `conn-${id}`,
        })),
      });
    const offered = (replies: Awaited<ReturnType<typeof claimMany>>) =>
      replies.slice(0, 3).map((reply) => (reply.kind === 'offer' ? [reply.rolloutId, reply.attempt] : null));

    const replies = await claimMany();
    expect(replies.map((reply) => reply.kind)).toEqual(['offer', 'offer', 'offer', 'none', 'none']);
    expect(offered(replies)).toEqual(Array(3).fill([rollout.id, 1]));
    expect((await counts(rollout.id)).offered).toBe(3);
    // Claimed again (a re-sent offer), and through the one-device script: the same attempt.
    expect(offered(await claimMany())).toEqual(Array(3).fill([rollout.id, 1]));
    expect((await pod.claim(on2))?.attempt).toBe(1);
    expect((await pod.claim(moved, '', `conn-${moved}`))?.attempt).toBe(1);
    expect((await counts(rollout.id)).offered).toBe(4);
  });

  it('gives a rollout to devices that register after it started', async () => {
    const rollout = await pod.rollout((await pod.publish()).id);
    expect(rollout.targeted).toBe(0);
    const { offerable } = await pod.register('late-1');
    expect(offerable).toBe(true);
    expect((await pod.claim('late-1'))?.rolloutId).toBe(rollout.id);
    expect((await pod.fleet.rollouts.get(rollout.id)).targeted).toBe(1);
  });

  it('offers nothing to an offline device and everything once it connects', async () => {
    await pod.register('cam-off', { online: false });
    const rollout = await pod.rollout((await pod.publish()).id);
    expect(await pod.claim('cam-off')).toBeNull();
    await pod.register('cam-off');
    expect((await pod.claim('cam-off'))?.rolloutId).toBe(rollout.id);
  });

  it('ignores a disconnect from a connection that is no longer the current one', async () => {
    await pod.register('cam-1', { conn: 'old' });
    await pod.register('cam-1', { conn: 'new' });
    expect(await pod.disconnect('cam-1', 'old')).toBe(false);
    expect((await pod.fleet.inventory.get('cam-1')).device.online).toBe(true);
    expect(await pod.disconnect('cam-1', 'new')).toBe(true);
    expect((await pod.fleet.inventory.get('cam-1')).device.online).toBe(false);
  });
});

describe('cancel', () => {
  it('cancels queued deliveries, asks in-flight ones to stop, keeps finished ones', async () => {
    await Promise.all(['a', 'b', 'c', 'e'].map((id) => pod.register(id, { online: false })));
    const rollout = await pod.rollout((await pod.publish()).id);
    await Promise.all(['a', 'b', 'c', 'e'].map((id) => pod.register(id)));
    await pod.claim('a');
    await pod.report('a', rollout.id, 1, 'succeeded');
    await pod.claim('b');
    await pod.claim('e');
    const canceled = await pod.fleet.rollouts.cancel(rollout.id, 'test');
    expect(canceled).toMatchObject({ status: 'canceled', statusBy: 'test', reason: 'canceled by test' });
    expect(canceled.counts).toMatchObject({ succeeded: 1, canceled: 1, offered: 2, queued: 0 });
    // In flight: the device is asked to stop; it may honour it or carry on.
    expect(await pod.claim('b')).toMatchObject({ cancel: true, attempt: 1 });
    expect(stateOf(await pod.report('b', rollout.id, 1, 'canceled'))).toBe('canceled');
    // A device that can no longer stop reports its real outcome.
    expect(stateOf(await pod.report('e', rollout.id, 1, 'succeeded'))).toBe('succeeded');
    expect(await pod.report('b', rollout.id, 1, 'succeeded')).toMatchObject({ code: 'DELIVERY_FINISHED' });
    expect(await pod.claim('c')).toBeNull();
    // A device arriving later does not join a canceled rollout.
    await pod.register('d');
    const final = await pod.fleet.rollouts.get(rollout.id);
    expect(final.targeted).toBe(4);
    expect(final.counts).toMatchObject({ succeeded: 2, canceled: 2, offered: 0 });
  });

  it('refuses a canceled report nobody asked for', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.claim('cam-1');
    expect(await pod.report('cam-1', rollout.id, 1, 'canceled')).toMatchObject({
      code: 'INVALID_TRANSITION',
    });
  });

  it('offers an idle connected device its work in the attach, for its connection, as a claim would', async () => {
    await pod.register('idle', { conn: 'c-idle' });
    await pod.register('busy');
    await pod.register('away', { online: false });
    const earlier = await pod.rollout((await pod.publish()).id, {
      target: { kind: 'devices', deviceIds: ['busy'] },
    });
    expect(pod.relayed.flatMap((group) => group.devices.map((d) => d.deviceId))).toEqual(['busy']);
    pod.relayed.length = 0;

    const patch = await pod.publish();
    const rollout = await pod.rollout(patch.id);
    // Offered at once: the idle one. `busy` has work in flight (queued behind it), `away` is offline.
    expect(rollout.counts).toMatchObject({ offered: 1, queued: 2 });
    expect(pod.relayed).toEqual([
      {
        reply: expect.objectContaining({ kind: 'offer', rolloutId: rollout.id, attempt: 1, window: null }),
        devices: [{ deviceId: 'idle', instance: 'pod-a', connectionId: 'c-idle' }],
      },
    ]);
    const [relayed] = pod.relayed;
    expect(relayed?.reply).toMatchObject({ patch: { id: patch.id, version: patch.version, delta: '' } });
    // What the pod's claim answers for it: the same attempt and deadline, re-sent.
    const claimed = await pod.claim('idle', '', 'c-idle');
    expect(claimed).toMatchObject({ rolloutId: rollout.id, attempt: 1 });
    expect(relayed?.reply.deadlineAt).toBe(claimed?.deadline);
    // Its record went through queued, then offered, with the counters, history and events of each.
    const history = (await pod.fleet.inventory.get('idle')).history.map((h) => `${h.from ?? ''}>${h.to}`);
    expect(history.slice(0, 2).sort()).toEqual(['>queued', 'queued>offered']);
    expect(await pod.report('idle', rollout.id, 1, 'succeeded')).toEqual(accepted('succeeded', 1));
    expect(await counts(rollout.id)).toMatchObject({ succeeded: 1, queued: 2, offered: 0 });
    // The busy device gets it after its earlier work, through a claim.
    await pod.report('busy', earlier.id, 1, 'succeeded');
    expect(await pod.claim('busy')).toMatchObject({ rolloutId: rollout.id, attempt: 1 });
  });

  it('leaves to the pod what the pod decides: a limited rollout is queued, for a claim with a slot', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, { maxInFlight: 5 });
    expect(rollout.counts).toMatchObject({ queued: 1, offered: 0 });
    expect(pod.relayed).toEqual([]);
    expect(await pod.claim('cam-1')).toMatchObject({ slot: rollout.id });
  });

  it('makes a late attach of a canceled rollout a no-op', async () => {
    await pod.register('cam-1', { online: false });
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.fleet.rollouts.cancel(rollout.id, 'test');
    await pod.reattach(rollout.id);
    expect(await counts(rollout.id)).toMatchObject({ canceled: 1, queued: 0 });
  });
});

describe('pod presence', () => {
  it('marks only the dead instance’s devices offline', async () => {
    const other = new ScriptDriver(suite.server().url, pod.keys.prefix, 'pod-b');
    await pod.register('on-a');
    await other.register('on-b');
    const bucketA = pod.keys.bucketOfDevice('on-a');
    const bucketB = pod.keys.bucketOfDevice('on-b');
    for (const bucket of new Set([bucketA, bucketB])) {
      await pod.scripts.run(nodeGone, { bucket, instance: 'pod-a', graceMs: 3000 });
    }
    expect((await pod.fleet.inventory.get('on-a')).device.online).toBe(false);
    expect((await pod.fleet.inventory.get('on-b')).device.online).toBe(true);
    await other.close();
  });
});

describe('counters', () => {
  it('always add up to the deliveries that exist, whatever happened', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `cnt-${i}`);
    await Promise.all(ids.map((id) => pod.register(id)));
    const rollout = await pod.rollout((await pod.publish()).id, {
      maxAttempts: 2,
      retryBackoff: { baseMs: 10, maxMs: 10 },
    });
    await Promise.all(
      ids.map(async (id, i) => {
        const offer = await pod.claim(id);
        if (!offer) return;
        if (i % 3 === 0) await pod.report(id, rollout.id, 1, 'succeeded');
        if (i % 3 === 1) await pod.report(id, rollout.id, 1, 'failed', 'boom');
        if (i % 3 === 2) await pod.report(id, rollout.id, 1, 'installing');
      }),
    );
    const status = await pod.fleet.rollouts.get(rollout.id);
    // Open deliveries have a record; finished ones a line in their device's archive.
    const open = (await keysEverywhere(pod.redis, `${pod.keys.prefix}:{b*}:d:${rollout.id}:*`)).length;
    const archives = await keysEverywhere(pod.redis, `${pod.keys.prefix}:{b*}:arc:*`);
    const finished = (await Promise.all(archives.map((key) => pod.redis.get(key)))).filter((lines) =>
      lines?.includes(`["${rollout.id}"`),
    ).length;
    expect(open).toBe(20);
    expect(status.targeted).toBe(open + finished);
    expect(DELIVERY_STATES.reduce((sum, s) => sum + status.counts[s], 0)).toBe(30);
    expect(status.counts).toMatchObject({ succeeded: 10, queued: 10, installing: 10 });
  });
});

describe('node_reap', () => {
  const LEASE = 3_000;
  const beat = async (instance: string) =>
    (await pod.scripts.run(nodeHeartbeat, { instance, leaseMs: LEASE, devices: 0 })).at;
  const reap = (caller: string, seen: number) =>
    pod.scripts.run(nodeReap, { limit: 10, instance: caller, lastBeatAt: seen });

  it('declares dead only what lapsed before the last beat the caller saw answered, never while the caller lapsed', async () => {
    // Time is moved by moving every lease and beat back, as if Redis froze for longer than a lease.
    const freeze = LEASE + 1_000;
    const before = (await beat('pod-b')) - freeze;
    await beat('pod-a');
    await pod.redis.zincrby(pod.keys.nodes, -freeze, 'pod-a');
    await pod.redis.zincrby(pod.keys.nodes, -freeze, 'pod-b');
    // pod-b's reap lands first: its own lease lapsed too, so it judges no one.
    expect(await reap('pod-b', before)).toEqual([]);
    // pod-b's beat, queued during the freeze, lands, then its reap, still naming the beat it saw
    // answered before the freeze: pod-a's lease held then, so pod-a is not dead (its own beat is
    // on its way).
    const after = await beat('pod-b');
    expect(await reap('pod-b', before)).toEqual([]);
    // Once pod-b saw a beat answered after pod-a's lease had run out, pod-a is dead.
    expect(await reap('pod-b', after)).toEqual(['pod-a']);
    expect(await pod.redis.zscore(pod.keys.nodes, 'pod-a')).toBeNull();
  });

  it('never reaps the caller itself', async () => {
    await beat('pod-c');
    const lease = Number(await pod.redis.zscore(pod.keys.nodes, 'pod-c'));
    // A last beat seen past the caller's own lease would name the caller dead: it is left alone.
    expect(await reap('pod-c', lease + 1)).toEqual([]);
    expect(await pod.redis.zscore(pod.keys.nodes, 'pod-c')).not.toBeNull();
  });

  it('tells a pod its lease had been taken away', async () => {
    const lost = async () =>
      (await pod.scripts.run(nodeHeartbeat, { instance: 'pod-d', leaseMs: LEASE, devices: 0 })).lost;
    expect(await lost()).toBe(true);
    expect(await lost()).toBe(false);
  });
});
