import { beforeEach, describe, expect, it } from 'vitest';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { DeliveryRetention } from './retention.js';

const suite = scriptDriverPerTest('cp');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const memory = async (key: string) =>
  Number((await pod.redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
const archiveKey = (deviceId: string) => pod.keys.bucketOfDevice(deviceId).key('archive', deviceId);

describe('finished deliveries are compacted', () => {
  it('keeps what device show and rollout status display, and frees the rest', async () => {
    const fleet = ids('cam', 20);
    for (const id of fleet) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish()).id);
    const seen = new Map<string, Awaited<ReturnType<typeof pod.fleet.inventory.get>>>();
    let recordBytes = 0;
    for (const id of fleet) {
      await pod.report(id, rollout.id, 1, 'downloading');
      await pod.report(id, rollout.id, 1, 'installing');
      seen.set(id, await pod.fleet.inventory.get(id));
      recordBytes += await memory(pod.keys.delivery(rollout.id, id));
    }
    let compactedBytes = 0;
    for (const id of fleet) {
      const reply = await pod.report(id, rollout.id, 1, 'succeeded');
      expect(reply).toMatchObject({ ok: true, state: 'succeeded' });
      expect(await pod.redis.exists(pod.keys.delivery(rollout.id, id))).toBe(0);
      compactedBytes += await memory(archiveKey(id));

      // What device show displays: the delivery as it was, now succeeded; its history one entry longer.
      const before = seen.get(id);
      const after = await pod.fleet.inventory.get(id);
      const [delivery] = after.deliveries;
      expect(delivery).toEqual({
        ...before?.deliveries[0],
        state: 'succeeded',
        updatedAt: delivery?.updatedAt,
      });
      expect(after.history.slice(1)).toEqual(before?.history);
      expect(after.history[0]).toMatchObject({
        rolloutId: rollout.id,
        attempt: 1,
        from: 'installing',
        to: 'succeeded',
      });
    }
    const status = await pod.fleet.rollouts.get(rollout.id);
    expect(status.status).toBe('completed');
    expect(status.counts.succeeded).toBe(fleet.length);
    // Measured with MEMORY USAGE: the archive (its key included) against the record it replaced.
    const perDevice = compactedBytes / fleet.length;
    expect(perDevice).toBeLessThan(300);
    expect(perDevice).toBeLessThan(recordBytes / fleet.length / 2);
  });

  it('tells a repeated final report apart from a wrong one once compacted', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.report('cam-1', rollout.id, 1, 'succeeded');
    expect(await pod.report('cam-1', rollout.id, 1, 'succeeded')).toMatchObject({
      ok: true,
      duplicate: true,
    });
    expect(await pod.report('cam-1', rollout.id, 1, 'failed', 'late')).toMatchObject({
      ok: false,
      code: 'DELIVERY_FINISHED',
    });
    expect(await pod.report('cam-1', rollout.id, 2, 'succeeded')).toMatchObject({ ok: false });
    expect((await pod.fleet.rollouts.get(rollout.id)).counts.succeeded).toBe(1);
  });

  it('targets a device once: a compacted delivery is not created again when the device comes back', async () => {
    await pod.register('cam-1', { labels: { site: 'a' } });
    const rollout = await pod.rollout((await pod.publish()).id, {
      target: { kind: 'selector', selector: 'site' },
    });
    await pod.report('cam-1', rollout.id, 1, 'succeeded');
    // Registering again (new labels, still matching) is when a continuous rollout takes a device in.
    await pod.register('cam-1', { labels: { site: 'b' }, firmware: '0.9.0' });
    const status = await pod.fleet.rollouts.get(rollout.id);
    expect(status.targeted).toBe(1);
    expect(status.counts.succeeded).toBe(1);
    expect(await pod.claim('cam-1')).toBeNull();
  });

  it('keeps errors as written, failed and canceled deliveries too', async () => {
    const error = 'disk | full, "quoted"\nsecond line, ünïcode';
    for (const id of ['f-1', 'c-1']) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish()).id, { maxAttempts: 1 });
    await pod.report('f-1', rollout.id, 1, 'failed', error);
    await pod.fleet.rollouts.cancel(rollout.id, 'ops', 'stop, now');
    const failed = await pod.fleet.inventory.get('f-1');
    expect(failed.deliveries[0]).toMatchObject({
      state: 'failed',
      lastError: error,
      failures: 1,
      maxAttempts: 1,
    });
    expect(failed.history[0]).toMatchObject({ from: 'offered', to: 'failed', error });
    // In flight when canceled: asked to stop, it stops.
    await pod.report('c-1', rollout.id, 1, 'canceled');
    const canceled = await pod.fleet.inventory.get('c-1');
    expect(canceled.deliveries[0]).toMatchObject({ state: 'canceled' });
    expect(canceled.history.map((h) => `${h.from ?? ''}>${h.to} ${h.error ?? ''}`)).toEqual([
      'offered>canceled canceled by the device on request',
      'offered>offered cancel requested: stop, now',
      'queued>offered ',
      '>queued ',
    ]);
    for (const id of ['f-1', 'c-1'])
      expect(await pod.redis.exists(pod.keys.delivery(rollout.id, id))).toBe(0);
    expect((await pod.fleet.rollouts.get(rollout.id)).counts).toMatchObject({ failed: 1 });
  });
});

describe('retention of ended rollouts', () => {
  it('removes the finished deliveries of rollouts ended longer ago; their counts and live rollouts stay', async () => {
    const fleet = ids('rt', 10);
    for (const id of fleet) await pod.register(id);
    const succeed = async (rolloutId: string, devices: string[]) => {
      for (const id of devices)
        expect(await pod.report(id, rolloutId, 1, 'succeeded')).toMatchObject({ ok: true });
    };
    const continuous = await pod.rollout((await pod.publish()).id);
    await succeed(continuous.id, fleet);
    const snapshot = await pod.rollout((await pod.publish()).id, { snapshot: true });
    await succeed(snapshot.id, fleet);
    const canceled = await pod.rollout((await pod.publish()).id);
    await succeed(canceled.id, fleet.slice(0, 5));
    await pod.fleet.rollouts.cancel(canceled.id, 'ops');
    for (const id of fleet.slice(5)) await pod.report(id, canceled.id, 1, 'canceled');
    // The controller finds the snapshot rollout completed: it has ended; the continuous one has not.
    while (await pod.fleet.controller.round());
    const ended = await pod.redis.zrange(pod.keys.endedRollouts, '0', '-1');
    expect(ended.sort()).toEqual([snapshot.id, canceled.id].sort());

    const statusBefore = await Promise.all(
      [snapshot.id, canceled.id].map((id) => pod.fleet.rollouts.get(id)),
    );
    const bytesBefore = await archiveBytes(fleet);
    // Within the retention nothing goes.
    expect(await new DeliveryRetention(pod.fleet.deps).pass()).toBe(false);
    const retention = new DeliveryRetention({ ...pod.fleet.deps, deliveryRetentionMs: 1 });
    let purged = 0;
    while (await retention.pass()) purged++;
    expect(purged).toBe(2);
    for (const id of fleet) {
      const shown = await pod.fleet.inventory.get(id);
      expect(shown.deliveries.map((d) => d.rolloutId)).toEqual([continuous.id]);
    }
    expect(await archiveBytes(fleet)).toBeLessThan(bytesBefore / 2);
    // What rollout status shows is kept: counters live apart from the deliveries.
    const statusAfter = await Promise.all([snapshot.id, canceled.id].map((id) => pod.fleet.rollouts.get(id)));
    expect(statusAfter.map((s) => [s.status, s.counts, s.targeted])).toEqual(
      statusBefore.map((s) => [s.status, s.counts, s.targeted]),
    );
    expect(await pod.redis.zcard(pod.keys.endedRollouts)).toBe(0);
    expect(await pod.redis.hget(pod.keys.rollout(canceled.id), 'purgedAt')).not.toBeNull();
  });
});

async function archiveBytes(devices: string[]): Promise<number> {
  let total = 0;
  for (const id of devices) total += await memory(archiveKey(id));
  return total;
}
