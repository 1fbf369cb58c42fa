import { beforeEach, describe, expect, it } from 'vitest';
import { deviceReconcile, nodeGone } from '../redis/scripts/index.js';
import { GRACE_MS, type ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('rc');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

/** This pod is declared dead: its devices in the bucket of `deviceId` go offline. */
function markPodGone(deviceId: string) {
  return pod.scripts.run(nodeGone, {
    bucket: pod.keys.bucketOfDevice(deviceId),
    instance: pod.instance,
    graceMs: GRACE_MS,
  });
}

describe('a device going offline', () => {
  it('un-parks its work, so its pod finds it offerable when it puts the device back online', async () => {
    const { rollout } = await pod.oneSlotTwoDevices();
    // This pod is declared dead while alive (Redis froze): its devices go offline. A slot retry in
    // that moment finds b offline and drops it from the waiting list.
    await markPodGone('b');
    pod.fleet.slots.forget('b', rollout.id);
    expect((await pod.delivery(rollout.id, 'b')).parked).toBe('0');
    // The pod puts b back online: b has work to be offered (it will ask for a slot again).
    const [b] = await pod.scripts.run(deviceReconcile, {
      bucket: pod.keys.bucketOfDevice('b'),
      instance: pod.instance,
      graceMs: GRACE_MS,
      sessions: [{ deviceId: 'b', connectionId: 'conn-b' }],
    });
    expect(b).toMatchObject({ restored: true, offerable: true });
    expect((await pod.claim('b', '', 'conn-b'))?.slot).toBe(rollout.id);
  });
});

describe('session reconcile', () => {
  it('puts connected devices marked offline back online and re-adopts parked work nobody retries', async () => {
    const { rollout } = await pod.oneSlotTwoDevices();
    // A lost race: b fell off the waiting list, and this pod was reaped (its devices marked offline)
    // without hearing of it.
    pod.fleet.slots.forget('b', rollout.id);
    for (const id of ['a', 'b']) await markPodGone(id);
    expect((await pod.fleet.inventory.get('b')).device.online).toBe(false);
    await pod.fleet.slots.release(rollout.id, 'a', 'release', 'succeeded');

    expect(await pod.fleet.reconcile.reconcile()).toBe(2);
    for (const id of ['a', 'b']) expect((await pod.fleet.inventory.get(id)).device.online).toBe(true);
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    // Nothing more to repair.
    expect(await pod.fleet.reconcile.reconcile()).toBe(0);
  });

  it('checks a slice a pass, round the sessions in turn', async () => {
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    for (const id of ids) {
      await pod.register(id, { conn: `conn-${id}` });
      pod.fleet.sessions.open(id, `conn-${id}`, null);
    }
    // The pod was reaped without hearing of it: every device of its sessions is offline.
    for (const id of ids) await markPodGone(id);
    const online = async () =>
      (await Promise.all(ids.map((id) => pod.fleet.inventory.get(id)))).filter((d) => d.device.online).length;
    const { reconcile } = pod.fleet;
    expect([await reconcile.reconcileSlice(2), await online()]).toEqual([2, 2]);
    expect([await reconcile.reconcileSlice(2), await online()]).toEqual([2, 4]);
    expect([await reconcile.reconcileSlice(2), await online()]).toEqual([1, 5]);
    // A new round: all checked again, nothing left to repair.
    for (let i = 0; i < 3; i++) expect(await reconcile.reconcileSlice(2)).toBe(0);
  });

  it('leaves a device alone that a newer connection holds, or whose connection closed here', async () => {
    await pod.register('d', { conn: 'conn-new' });
    const { devices, sessions } = pod.fleet;
    sessions.open('d', 'conn-old', null);
    expect(await pod.fleet.reconcile.reconcile()).toBe(0);
    expect(await pod.redis.hget(pod.keys.device('d'), 'conn')).toBe('conn-new');

    await pod.disconnect('d', 'conn-new');
    await devices.disconnected('d', 'conn-old');
    expect(await pod.fleet.reconcile.reconcile()).toBe(0);
    expect((await pod.fleet.inventory.get('d')).device.online).toBe(false);
  });
});
