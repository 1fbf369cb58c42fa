import type { DeviceEvent } from '@camfleet/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import { bucketOf } from '../redis/keys.js';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('cl');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

/** What the device's session would send it next (without waiting). */
async function pending(deviceId: string): Promise<DeviceEvent | null> {
  const session = pod.fleet.sessions.get(deviceId);
  if (!session) return null;
  const stop = new AbortController();
  const next = session.events(stop.signal).next();
  const none = new Promise<null>((resolve) => setImmediate(() => resolve(null)));
  const event = await Promise.race([next.then((r) => (r.done ? null : r.value)), none]);
  stop.abort();
  return event;
}

/** Script calls this driver's connection made, by name, while `work` ran. */
async function scriptCalls(work: () => Promise<unknown>): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  const scripts = pod.scripts as unknown as {
    run: (script: { name: string }, input: unknown) => Promise<unknown>;
  };
  const run = scripts.run.bind(scripts);
  scripts.run = (script, input) => {
    calls[script.name] = (calls[script.name] ?? 0) + 1;
    return run(script, input);
  };
  try {
    await work();
  } finally {
    scripts.run = run;
  }
  return calls;
}

describe('offer claims', () => {
  it('pushes the offer a device should get to its session, once per attempt', async () => {
    await pod.register('cam-1', { conn: 'conn-1' });
    pod.fleet.sessions.open('cam-1', 'conn-1', null);
    const rollout = await pod.rollout((await pod.publish()).id);
    expect(await pod.fleet.claims.evaluate('cam-1')).toBe('offered');
    expect(await pending('cam-1')).toMatchObject({
      type: 'offer',
      offer: { rolloutId: rollout.id, attempt: 1 },
    });
    // Claimed again: the same attempt, which the session does not send twice.
    expect(await pod.fleet.claims.evaluate('cam-1')).toBe('offered');
    expect(await pending('cam-1')).toBeNull();
  });

  it('pushes a cancel request for an attempt in flight once its rollout is canceled', async () => {
    await pod.register('cam-1', { conn: 'conn-1' });
    pod.fleet.sessions.open('cam-1', 'conn-1', null);
    const rollout = await pod.rollout((await pod.publish()).id);
    await pod.fleet.claims.evaluate('cam-1');
    await pending('cam-1');
    await pod.fleet.rollouts.cancel(rollout.id, 'ops', 'wrong build');
    await pod.fleet.claims.evaluate('cam-1');
    expect(await pending('cam-1')).toMatchObject({ type: 'cancel', attempt: 1 });
  });

  it('claims nothing for a device whose session is elsewhere', async () => {
    await pod.register('cam-1', { online: false });
    await pod.rollout((await pod.publish()).id);
    await pod.register('cam-1', { conn: 'conn-1' });
    expect(await pod.fleet.claims.evaluate('cam-1')).toBe('none');
    expect((await pod.fleet.inventory.get('cam-1')).deliveries[0]?.state).toBe('queued');
  });

  it('claims many sessions of one bucket with one script call, and a pass asked for meanwhile runs after it', async () => {
    const ids: string[] = [];
    for (let i = 0; ids.length < 12; i++)
      if (bucketOf(`many-${i}`) === bucketOf('many-0')) ids.push(`many-${i}`);
    for (const id of ids) {
      await pod.register(id, { conn: `conn-${id}` });
      pod.fleet.sessions.open(id, `conn-${id}`, null);
    }
    const rollout = await pod.rollout((await pod.publish()).id);
    const calls = await scriptCalls(() => pod.fleet.claims.evaluateMany(ids));
    expect(calls).toEqual({ offer_claim_many: 1 });
    for (const id of ids)
      expect(await pending(id)).toMatchObject({ type: 'offer', offer: { rolloutId: rollout.id } });
    expect((await pod.fleet.rollouts.get(rollout.id)).counts.offered).toBe(12);

    // While a claim of a device runs, another request marks it for one more pass instead of racing it.
    const session = pod.fleet.sessions.get(ids[0]!)!;
    session.evaluating = true;
    expect(await pod.fleet.claims.evaluate(ids[0]!)).toBe('none');
    expect(session.again).toBe(true);
  });
});
