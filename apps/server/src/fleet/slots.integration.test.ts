import { beforeEach, describe, expect, it } from 'vitest';
import { runScript } from '../redis/scripts.js';
import { GRACE_MS, type ScriptDriver, scriptDriverPerTest } from '../testing/script-driver.js';

const suite = scriptDriverPerTest('sl');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

/** Two devices with sessions on this pod, a rollout with one in-flight slot: a offered, b parked. */
async function oneSlotTwoDevices() {
  await pod.register('a');
  await pod.register('b');
  const rollout = await pod.rollout((await pod.publish()).id, { maxInFlight: 1 });
  const devices = pod.fleet.devices;
  devices.sessions.open('a', 'conn-a', null);
  devices.sessions.open('b', 'conn-b', null);
  expect(await devices.evaluate('a')).toBe('offered');
  expect(await devices.evaluate('b')).toBe('blocked');
  expect(pod.fleet.slots.isWaiting(rollout.id, 'b')).toBe(true);
  expect((await pod.delivery(rollout.id, 'b')).parked).toBe('1');
  return { rollout, devices };
}

describe('parked devices and slots', () => {
  it('a slot granted while the device is being claimed is used by that claim, not dropped', async () => {
    const { rollout, devices } = await oneSlotTwoDevices();
    // b's claim is still running (e.g. its park is on the wire, Redis slow) when a's slot frees up
    // and the retry grants it to b.
    const b = devices.sessions.get('b');
    if (!b) throw new Error('no session');
    b.evaluating = true;
    await pod.fleet.slots.release(rollout.id, 'a', 'release', 'succeeded');
    await pod.fleet.slots.retry(rollout.id);
    expect(pod.fleet.slots.isWaiting(rollout.id, 'b')).toBe(false);
    expect(b.again).toBe(true);
    // The running claim's next pass: it has the slot, so b's parked delivery starts.
    b.evaluating = false;
    expect(await devices.evaluate('b')).toBe('offered');
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    expect(await pod.redis.zrange(pod.keys.slots(rollout.id), '0', '-1')).toEqual(['b']);
  });

  it('a parked device stays listed while another pod holds a slot in its name for a moment', async () => {
    const { rollout, devices } = await oneSlotTwoDevices();
    await pod.fleet.slots.release(rollout.id, 'a', 'release', 'succeeded');
    // A pod where b was parked before (a stale waiting entry) takes the free slot for b, finds no
    // session there, and will give it back.
    expect(await pod.fleet.slots.acquire(rollout.id, 'b')).toMatchObject({ granted: true, fresh: true });
    await pod.fleet.slots.retry(rollout.id);
    expect(pod.fleet.slots.isWaiting(rollout.id, 'b')).toBe(true);
    await pod.fleet.slots.release(rollout.id, 'b', 'release');
    await pod.fleet.slots.retry(rollout.id);
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    expect(devices.sessions.get('b')?.passes).toBeGreaterThan(0);
  });

  it('a replaced connection neither parks nor claims the device its successor holds', async () => {
    await pod.register('a');
    await pod.register('e', { conn: 'conn-old' });
    const rollout = await pod.rollout((await pod.publish()).id, { maxInFlight: 1 });
    expect((await pod.fleet.slots.acquire(rollout.id, 'a')).granted).toBe(true);
    // The device moved to a new connection (its register un-parks its work) while the old one's pod
    // was still in the middle of a claim for it: that claim's park arrives late.
    await pod.register('e', { conn: 'conn-new' });
    await pod.fleet.slots.park(rollout.id, 'e', 'conn-old', 0);
    expect((await pod.delivery(rollout.id, 'e')).parked).toBe('0');
    expect(await pod.claim('e', '', 'conn-old')).toBeNull();
    expect((await pod.claim('e', '', 'conn-new'))?.slot).toBe(rollout.id);
    await pod.fleet.slots.park(rollout.id, 'e', 'conn-new', 0);
    expect((await pod.delivery(rollout.id, 'e')).parked).toBe('1');
  });

  it('a connection that closed no longer speaks for its device', async () => {
    await pod.register('c');
    const devices = pod.fleet.devices;
    const older = devices.sessions.open('c', 'conn-1', null);
    devices.sessions.open('c', 'conn-2', null);
    await devices.deviceDisconnected('c', 'conn-2');
    expect(devices.sessions.get('c')).toBe(older);
    await devices.deviceDisconnected('c', 'conn-1');
    expect(devices.sessions.get('c')).toBeUndefined();
  });
});

describe('a device going offline', () => {
  it('un-parks its work, so its pod finds it offerable when it puts the device back online', async () => {
    const { rollout } = await oneSlotTwoDevices();
    // This pod is declared dead while alive (Redis froze): its devices go offline. A slot retry in
    // that moment finds b offline and drops it from the waiting list.
    const bucket = pod.keys.bucketOfDevice('b');
    await runScript(pod.redis, 'node_gone', pod.keys.due(bucket), bucket, pod.instance, GRACE_MS);
    pod.fleet.slots.forget('b', rollout.id);
    expect((await pod.delivery(rollout.id, 'b')).parked).toBe('0');
    // The pod puts b back online: b has work to be offered (it will ask for a slot again).
    const [[restored, offerable]] = (await runScript(
      pod.redis,
      'device_reconcile',
      pod.keys.due(bucket),
      bucket,
      pod.instance,
      GRACE_MS,
      'b',
      'conn-b',
    )) as [[number, number, string]];
    expect([restored, offerable]).toEqual([1, 1]);
    expect((await pod.claim('b', '', 'conn-b'))?.slot).toBe(rollout.id);
  });
});

describe('session reconcile', () => {
  it('puts connected devices marked offline back online and re-adopts parked work nobody retries', async () => {
    const { rollout, devices } = await oneSlotTwoDevices();
    // A lost race: b fell off the waiting list, and this pod was reaped (its devices marked offline)
    // without hearing of it.
    pod.fleet.slots.forget('b', rollout.id);
    for (const id of ['a', 'b']) {
      const bucket = pod.keys.bucketOfDevice(id);
      await runScript(pod.redis, 'node_gone', pod.keys.due(bucket), bucket, pod.instance, GRACE_MS);
    }
    expect((await pod.fleet.getDevice('b')).device.online).toBe(false);
    await pod.fleet.slots.release(rollout.id, 'a', 'release', 'succeeded');

    expect(await devices.reconcile()).toBe(2);
    for (const id of ['a', 'b']) expect((await pod.fleet.getDevice(id)).device.online).toBe(true);
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    // Nothing more to repair.
    expect(await devices.reconcile()).toBe(0);
  });

  it('leaves a device alone that a newer connection holds, or whose connection closed here', async () => {
    await pod.register('d', { conn: 'conn-new' });
    const devices = pod.fleet.devices;
    devices.sessions.open('d', 'conn-old', null);
    expect(await devices.reconcile()).toBe(0);
    expect(await pod.redis.hget(pod.keys.device('d'), 'conn')).toBe('conn-new');

    await pod.disconnect('d', 'conn-new');
    await devices.deviceDisconnected('d', 'conn-old');
    expect(await devices.reconcile()).toBe(0);
    expect((await pod.fleet.getDevice('d')).device.online).toBe(false);
  });
});
