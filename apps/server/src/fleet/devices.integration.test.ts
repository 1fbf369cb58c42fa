import type { DeviceEvent } from '@camfleet/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ScriptDriver, scriptDriverPerTest } from '../testing/script-driver.js';
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

  it('knows the artifact of the attempt in flight, and no other', async () => {
    await pod.register('cam-1');
    expect(await pod.fleet.devices.offeredArtifact('cam-1')).toBeNull();
    // A patch with an artifact, recorded without storage (the driver's fleet has none to check).
    const sha256 = 'a'.repeat(64);
    const patchId = 'pat_withfile';
    await pod.redis.hset(pod.keys.patch(patchId), {
      id: patchId,
      name: 'fw',
      version: '3',
      notes: '',
      artifact: JSON.stringify({ sha256, size: 3, url: `/artifacts/${sha256}` }),
      signature: '',
      createdAt: 1,
      createdBy: 't',
    });
    const rollout = await pod.rollout(patchId);
    expect(await pod.fleet.devices.offeredArtifact('cam-1')).toBeNull();
    await pod.claim('cam-1');
    expect(await pod.fleet.devices.offeredArtifact('cam-1')).toBe(sha256);
    await pod.report('cam-1', rollout.id, 1, 'succeeded', '', '3');
    expect(await pod.fleet.devices.offeredArtifact('cam-1')).toBeNull();
  });
});
