import { beforeEach, describe, expect, it } from 'vitest';
import { rolloutSample } from '../redis/scripts/index.js';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { HISTORY_POINTS } from './rollouts.js';

const suite = scriptDriverPerTest('hi');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

describe("a rollout's counts over time", () => {
  it('are recorded as the controller sees them change, and once more when it is canceled', async () => {
    for (const id of ['a', 'b', 'c']) await pod.register(id);
    const rollout = await pod.rollout((await pod.publish()).id, { maxAttempts: 1 });
    const evaluate = () => pod.fleet.controller.evaluate(rollout.id);
    await evaluate();
    await evaluate(); // nothing changed: no point
    await pod.report('a', rollout.id, 1, 'succeeded');
    await evaluate();
    await pod.report('b', rollout.id, 1, 'failed', 'boom');
    await evaluate();
    await pod.fleet.rollouts.cancel(rollout.id, 'ops');
    await pod.report('c', rollout.id, 1, 'canceled');
    await evaluate();
    const { points } = await pod.fleet.rollouts.history(rollout.id);
    expect(points.map(({ succeeded, failed, active }) => [succeeded, failed, active])).toEqual([
      [0, 0, 3],
      [1, 0, 2],
      [1, 1, 1],
      [1, 1, 0],
    ]);
    const times = points.map((p) => p.at);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  it('stay bounded: past the limit the older half is thinned, the first and newest points kept', async () => {
    const rollout = await pod.rollout((await pod.publish()).id);
    const total = HISTORY_POINTS * 3;
    for (let n = 1; n <= total; n++)
      await pod.scripts.run(rolloutSample, {
        rolloutId: rollout.id,
        succeeded: n,
        failed: 0,
        active: 0,
        most: HISTORY_POINTS,
      });
    const { points } = await pod.fleet.rollouts.history(rollout.id);
    expect(points.length).toBeLessThanOrEqual(HISTORY_POINTS);
    expect(points.length).toBeGreaterThan(HISTORY_POINTS / 2);
    expect(points[0]?.succeeded).toBe(1);
    expect(points.at(-1)?.succeeded).toBe(total);
    const counts = points.map((p) => p.succeeded);
    expect(counts).toEqual([...counts].sort((x, y) => x - y));
  });

  it('are refused for a rollout that does not exist', async () => {
    await expect(pod.fleet.rollouts.history('ro_nosuchrollout')).rejects.toThrow(/no rollout/);
  });
});
