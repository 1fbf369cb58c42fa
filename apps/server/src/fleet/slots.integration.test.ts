import { beforeEach, describe, expect, it } from 'vitest';
import { type ScriptDriver, scriptDriverPerTest } from '../testing/script-driver.js';

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
    expect(b.again).toBe(true);
    // The running claim's next pass: it has the slot, so b's parked delivery starts.
    b.evaluating = false;
    expect(await devices.evaluate('b')).toBe('offered');
    expect((await pod.delivery(rollout.id, 'b')).state).toBe('offered');
    expect(await pod.redis.zrange(pod.keys.slots(rollout.id), '0', '-1')).toEqual(['b']);
  });
});
