import { OVERVIEW_SCAN } from '@camfleet/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('ov');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

describe('the Overview, from one read', () => {
  it('counts totals, models, firmware and pods from the same scan: they add up', async () => {
    for (let i = 0; i < 5; i++) await pod.register(`a-${i}`, { model: 'cam-a', firmware: '1.0' });
    for (let i = 0; i < 3; i++)
      await pod.register(`b-${i}`, { model: 'cam-b', firmware: '2.0', online: false });
    const overview = await pod.fleet.inventory.overview();
    expect(overview).toMatchObject({ devices: 8, online: 5, sampled: null });
    expect(overview.perModel).toEqual([
      { name: 'cam-a', devices: 5, online: 5 },
      { name: 'cam-b', devices: 3, online: 0 },
    ]);
    expect(overview.perFirmware).toEqual([
      { name: '1.0', devices: 5, online: 5 },
      { name: '2.0', devices: 3, online: 0 },
    ]);
    expect(overview.perPod).toEqual([{ node: 'pod-a', devices: 5 }]);
  });

  it('past one scan, takes the totals from the counters and says the breakdowns are a sample', async () => {
    const ids = Array.from({ length: OVERVIEW_SCAN + 5 }, (_, i) => `big-${i}`);
    for (let i = 0; i < ids.length; i += 200)
      await Promise.all(ids.slice(i, i + 200).map((id) => pod.register(id, { online: false })));
    const overview = await pod.fleet.inventory.overview();
    expect(overview.devices).toBe(ids.length);
    expect(overview.sampled).toBe(OVERVIEW_SCAN);
    expect(overview.perModel.reduce((sum, row) => sum + row.devices, 0)).toBe(OVERVIEW_SCAN);
  });
});
