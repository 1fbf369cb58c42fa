import { beforeEach, describe, expect, it } from 'vitest';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('pt');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

describe('patch lifecycle', () => {
  it('shows the rollouts using a patch, and refuses to delete it while one is live', async () => {
    const patch = await pod.publish();
    const rollout = await pod.rollout(patch.id);
    const detail = await pod.fleet.patches.get(patch.id);
    expect(detail.rollouts).toEqual([{ id: rollout.id, status: 'active' }]);
    await expect(pod.fleet.patches.delete(patch.id, 'ops')).rejects.toThrow(
      `used by live rollout ${rollout.id}`,
    );
    expect((await pod.fleet.patches.get(patch.id)).id).toBe(patch.id);

    await pod.fleet.rollouts.cancel(rollout.id, 'ops');
    expect(await pod.fleet.patches.delete(patch.id, 'ops')).toEqual({ patchId: patch.id, deleted: true });
    await expect(pod.fleet.patches.get(patch.id)).rejects.toThrow('no patch');
    // Its name and version are free again.
    expect(
      (await pod.fleet.patches.publish({ name: 'fw', version: patch.version, notes: '' }, 'ops')).version,
    ).toBe(patch.version);
  });

  it('refuses an artifact that was never uploaded, and a signature without an artifact', async () => {
    const sha256 = 'c'.repeat(64);
    await expect(
      pod.fleet.patches.publish(
        { name: 'fw', version: '9', notes: '', artifact: { sha256, size: 3 } },
        'ops',
      ),
    ).rejects.toThrow(/upload it first/);
    await expect(
      pod.fleet.patches.publish(
        {
          name: 'fw',
          version: '9',
          notes: '',
          signature: { keyId: 'a'.repeat(16), value: `${'A'.repeat(86)}==` },
        },
        'ops',
      ),
    ).rejects.toThrow(/needs an artifact/);
  });
});
