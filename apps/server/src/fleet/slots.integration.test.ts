import { beforeEach, describe, expect, it } from 'vitest';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('sl');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

describe('parked devices and slots', () => {
  it('parks a device that finds no free slot: on this pod’s waiting list, parked in Redis', async () => {
    const { rollout } = await pod.oneSlotTwoDevices();
    expect(pod.fleet.slots.isWaiting(rollout.id, 'b')).toBe(true);
    expect((await pod.delivery(rollout.id, 'b')).parked).toBe('1');
    expect(pod.fleet.slots.isWaiting(rollout.id, 'a')).toBe(false);
  });

  it('a slot granted while the device is being claimed is used by that claim, not dropped', async () => {
    const { rollout } = await pod.oneSlotTwoDevices();
    // b's claim is still running (e.g. its park is on the wire, Redis slow) when a's slot frees up
    // and the retry grants it to b.
    const b = pod.fleet.sessions.get('b');
    if (!b) throw new Error('no session');
    b.evaluating = true;
    await pod.fleet.slots.release(rollout.id, 'a', 'release', 'succeeded');
    await pod.fleet.slots.retry(rollout.id);
    expect(pod.fleet.slots.isWaiting(rollout.id, 'b')).toBe(false);
    expect(b.again).toBe(true);
    // The running claim's next pass: it has the slot, so b's parked delivery starts.
    b.evaluating = false;
    expect(await pod.fleet.claims.evaluate('b')).toBe('offered');
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    expect(await pod.redis.zrange(pod.keys.slots(rollout.id), '0', '-1')).toEqual(['b']);
  });

  it('a parked device stays listed while another pod holds a slot in its name for a moment', async () => {
    const { rollout } = await pod.oneSlotTwoDevices();
    await pod.fleet.slots.release(rollout.id, 'a', 'release', 'succeeded');
    // A pod where b was parked before (a stale waiting entry) takes the free slot for b, finds no
    // session there, and will give it back.
    expect(await pod.fleet.slots.acquire(rollout.id, 'b')).toMatchObject({ granted: true, fresh: true });
    await pod.fleet.slots.retry(rollout.id);
    expect(pod.fleet.slots.isWaiting(rollout.id, 'b')).toBe(true);
    await pod.fleet.slots.release(rollout.id, 'b', 'release');
    await pod.fleet.slots.retry(rollout.id);
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    expect(pod.fleet.sessions.get('b')?.passes).toBeGreaterThan(0);
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
    const { devices, sessions } = pod.fleet;
    const older = sessions.open('c', 'conn-1', null);
    sessions.open('c', 'conn-2', null);
    await devices.disconnected('c', 'conn-2');
    expect(sessions.get('c')).toBe(older);
    await devices.disconnected('c', 'conn-1');
    expect(sessions.get('c')).toBeUndefined();
  });
});
