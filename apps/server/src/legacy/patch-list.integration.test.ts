import { describe, expect, it } from 'vitest';
import { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { PATCH_LIST_KEY, PatchListImporter } from './patch-list.js';

const { pod, server } = scriptDriverPerTest('legacy');

describe('importing the original patch_files list', () => {
  it('imports every entry exactly once while two pods race, in list order, skipping names camfleet refuses', async () => {
    const a = pod();
    const b = new ScriptDriver(server().url, a.keys.prefix, 'pod-b');
    const names = Array.from({ length: 30 }, (_, i) => (i === 7 ? 'bad/name' : `fw-${i}.bin`));
    await a.redis.del(PATCH_LIST_KEY);
    await a.redis.rpush(PATCH_LIST_KEY, ...names);
    const importers = [a, b].map((driver) => new PatchListImporter(driver.fleet, 60_000));
    const imported = () => a.redis.get(a.keys.legacyImported).then(Number);
    while ((await imported()) < names.length) await Promise.all(importers.map((importer) => importer.pass()));

    const rollouts = await a.fleet.rollouts.list(100);
    expect(rollouts).toHaveLength(names.length - 1);
    const byName = new Map(rollouts.map((r) => [r.patch.name, r]));
    for (const [i, name] of names.entries()) {
      if (name === 'bad/name') continue;
      expect(byName.get(name)?.patch.version).toBe(`patch_files-${i + 1}`);
      expect(byName.get(name)).toMatchObject({
        target: { kind: 'all' },
        supersede: true,
        ackTimeoutMs: 60_000,
      });
    }
    // Rollout sequence follows list order: the newest pushed is the newest rollout.
    const seqOf = (name: string) => byName.get(name)?.seq ?? -1;
    expect(seqOf('fw-29.bin')).toBeGreaterThan(seqOf('fw-0.bin'));

    // Nothing new: a pass changes nothing.
    await Promise.all(importers.map((importer) => importer.pass()));
    expect(await a.fleet.rollouts.list(100)).toHaveLength(names.length - 1);
    await b.close();
  });
});
