import type { DeviceEvent } from '@camfleet/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { deliveryIdOf } from './ids.js';

const suite = scriptDriverPerTest('dv');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

const connection = (connectionId: string, takeOver?: () => Promise<void>) => ({
  connectionId,
  subscriptions: { open: 0, max: 4 },
  ...(takeOver ? { takeOver } : {}),
});

/** The first event a device's offer subscription yields. */
async function firstEvent(deviceId: string, connectionId: string): Promise<DeviceEvent> {
  const stop = new AbortController();
  const events = pod.fleet.devices.offers(deviceId, {
    connection: connection(connectionId),
    lastEventId: null,
    signal: stop.signal,
  });
  for await (const event of events) {
    stop.abort();
    return event;
  }
  throw new Error('the subscription ended without an event');
}

/** A patch with an artifact and a delta from 1.0.0, recorded without storage (the driver's fleet has none). */
async function patchWithDelta() {
  const [sha256, deltaSha, otherSha] = ['a', 'b', 'c'].map((c) => c.repeat(64)) as [string, string, string];
  const patchId = 'pat_withfile';
  await pod.redis.hset(pod.keys.patch(patchId), {
    id: patchId,
    name: 'fw',
    version: '3',
    notes: '',
    artifact: JSON.stringify({ sha256, size: 300, url: `/artifacts/${sha256}` }),
    deltas: JSON.stringify({
      '1.0.0': {
        fromVersion: '1.0.0',
        format: 'zstd-patch',
        sha256: deltaSha,
        size: 100,
        baseSha256: otherSha,
      },
    }),
    signature: '',
    createdAt: 1,
    createdBy: 't',
  });
  return { patchId, sha256, deltaSha, otherSha };
}

describe('the device channel', () => {
  it('takes over from older connections before it registers the device on this one', async () => {
    const order: string[] = [];
    const device = await pod.fleet.devices.register(
      'cam-1',
      connection('conn-1', async () => {
        order.push('take over');
        // Nothing is registered yet when the older connections are closed.
        order.push((await pod.redis.exists(pod.keys.device('cam-1'))) ? 'registered' : 'not registered');
      }),
      { model: 'm', firmwareVersion: '1', labels: {} },
    );
    expect(order).toEqual(['take over', 'not registered']);
    expect(device).toMatchObject({ id: 'cam-1', online: true, node: pod.instance });
    expect(await pod.redis.hget(pod.keys.device('cam-1'), 'conn')).toBe('conn-1');
  });

  it('offers a subscribed device its work, and takes its reports of it', async () => {
    await pod.register('cam-1', { conn: 'conn-1' });
    const rollout = await pod.rollout((await pod.publish('2.0')).id);
    const event = await firstEvent('cam-1', 'conn-1');
    expect(event).toMatchObject({
      type: 'offer',
      offer: { rolloutId: rollout.id, attempt: 1, patch: { version: '2.0' } },
    });
    const deliveryId = deliveryIdOf(rollout.id, 'cam-1');
    expect(
      await pod.fleet.devices.report('cam-1', { deliveryId, attempt: 1, status: 'installing', progress: 50 }),
    ).toEqual({
      deliveryId,
      attempt: 1,
      state: 'installing',
      duplicate: false,
    });
    const done = { deliveryId, attempt: 1, status: 'succeeded' as const, firmwareVersion: '2.0' };
    expect((await pod.fleet.devices.report('cam-1', done)).state).toBe('succeeded');
    // The same outcome again is a harmless duplicate.
    expect(await pod.fleet.devices.report('cam-1', done)).toMatchObject({
      state: 'succeeded',
      duplicate: true,
    });
    expect((await pod.fleet.rollouts.get(rollout.id)).counts.succeeded).toBe(1);
  });

  it("refuses a report of another device's delivery, or of no delivery, and changes nothing", async () => {
    await pod.register('cam-1');
    await pod.register('cam-2');
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.claim('cam-2');
    const before = await pod.delivery(rollout.id, 'cam-2');
    const report = (deliveryId: string) =>
      pod.fleet.devices.report('cam-1', { deliveryId, attempt: 1, status: 'installing' });
    await expect(report(deliveryIdOf(rollout.id, 'cam-2'))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(report('not-a-delivery')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await pod.delivery(rollout.id, 'cam-2')).toEqual(before);
  });

  it("lets a device fetch its attempt's artifact, and the delta for the version it runs, and nothing else", async () => {
    // Connected after the attach: nothing is offered until they claim.
    await pod.register('cam-1', { online: false }); // runs 1.0.0
    await pod.register('cam-2', { online: false, firmware: '0.9.0' });
    const links = pod.fleet.artifactLinks;
    const { patchId, sha256, deltaSha, otherSha } = await patchWithDelta();
    expect(await links.mayFetch('cam-1', sha256)).toBe(false);
    const rollout = await pod.rollout(patchId);
    await pod.register('cam-1');
    await pod.register('cam-2', { firmware: '0.9.0' });
    expect(await links.mayFetch('cam-1', sha256)).toBe(false); // not offered yet
    expect((await pod.claim('cam-1'))?.delta).toContain(deltaSha);
    expect((await pod.claim('cam-2'))?.delta).toBe('');
    expect(await links.mayFetch('cam-1', sha256)).toBe(true);
    expect(await links.mayFetch('cam-1', deltaSha)).toBe(true);
    expect(await links.mayFetch('cam-1', otherSha)).toBe(false);
    expect(await links.mayFetch('cam-2', sha256)).toBe(true);
    expect(await links.mayFetch('cam-2', deltaSha)).toBe(false); // runs another version
    // Installs from the delta are counted with the bytes each saved, once (a repeat is a duplicate).
    await pod.report('cam-1', rollout.id, 1, 'succeeded', '', '3', true);
    await pod.report('cam-1', rollout.id, 1, 'succeeded', '', '3', true);
    await pod.report('cam-2', rollout.id, 1, 'succeeded', '', '3');
    expect((await pod.fleet.rollouts.get(rollout.id)).deltas).toEqual({ installs: 1, savedBytes: 200 });
    expect(await links.mayFetch('cam-1', sha256)).toBe(false);
    expect(await links.mayFetch('cam-1', deltaSha)).toBe(false);
  });
  it('offers devices idle at the attach the delta for the version each runs, and lets them fetch it', async () => {
    await pod.register('cam-1'); // runs 1.0.0
    await pod.register('cam-2', { firmware: '0.9.0' });
    const { patchId, sha256, deltaSha } = await patchWithDelta();
    const rollout = await pod.rollout(patchId);
    const deltaOf = (deviceId: string) =>
      pod.relayed.find((group) => group.devices.some((d) => d.deviceId === deviceId))?.reply.patch.delta;
    expect(pod.relayed).toHaveLength(2);
    expect(deltaOf('cam-1')).toContain(deltaSha);
    expect(deltaOf('cam-2')).toBe('');
    const links = pod.fleet.artifactLinks;
    expect(await links.mayFetch('cam-1', deltaSha)).toBe(true);
    expect(await links.mayFetch('cam-2', deltaSha)).toBe(false);
    expect(await links.mayFetch('cam-2', sha256)).toBe(true);
    await pod.report('cam-1', rollout.id, 1, 'succeeded', '', '3', true);
    expect((await pod.fleet.rollouts.get(rollout.id)).deltas).toEqual({ installs: 1, savedBytes: 200 });
  });
});
