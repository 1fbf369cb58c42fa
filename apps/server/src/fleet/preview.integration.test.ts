import { PREVIEW_SAMPLE, PREVIEW_SCAN, PROVISION_BATCH_MAX } from '@camfleet/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';

const suite = scriptDriverPerTest('pv');
let pod: ScriptDriver;
beforeEach(() => {
  pod = suite.pod();
});

describe('rollout.preview: what a target names, before the rollout exists', () => {
  it('counts what the rollout then targets, with the same selector rules as the attach', async () => {
    // Labels and models chosen so each rule of the selector decides some device.
    const devices = [
      ['n-1', 'north', 'cam-a', true, '1.0'],
      ['n-2', 'north', 'cam-a', false, '1.0'],
      ['n-3', 'north', 'cam-b', true, '1.1'],
      ['n-4', 'north', 'door-y', true, '1.1'],
      ['s-1', 'south', 'cam-a', true, '1.0'],
      ['e-1', 'east', 'cam-b', false, '2.0'],
      ['x-1', null, 'cam-a', true, '1.0'],
    ] as const;
    for (const [id, site, model, online, firmware] of devices) {
      await pod.register(id, { model, online, firmware, labels: site ? { site } : {} });
    }
    const selector = 'site in (north,east),model!=door-y';
    const preview = await pod.fleet.inventory.preview({ kind: 'selector', selector });
    expect(preview).toMatchObject({ matched: 4, online: 2, offline: 2, exact: true, scanned: 7, fleet: 7 });
    expect(preview.unknown).toBeNull();
    expect(preview.sample.map((d) => d.id).sort()).toEqual(['e-1', 'n-1', 'n-2', 'n-3']);
    expect(preview.perFirmware).toEqual([
      { name: '1.0', devices: 2, online: 1 },
      { name: '1.1', devices: 1, online: 1 },
      { name: '2.0', devices: 1, online: 0 },
    ]);

    const created = await pod.rollout((await pod.publish()).id, { target: { kind: 'selector', selector } });
    expect(created.targeted).toBe(preview.matched);

    const all = await pod.fleet.inventory.preview({ kind: 'all' });
    expect(all).toMatchObject({ matched: 7, online: 5, offline: 2, exact: true });
  });

  it('looks up a device list id by id and names the ids no device has', async () => {
    await pod.register('d-1', { firmware: '1.0' });
    await pod.register('d-2', { firmware: '1.0', online: false });
    const missing = Array.from({ length: 25 }, (_, i) => `ghost-${i}`);
    const preview = await pod.fleet.inventory.preview({
      kind: 'devices',
      deviceIds: ['d-1', ...missing, 'd-2'],
    });
    expect(preview).toMatchObject({ matched: 2, online: 1, offline: 1, exact: true, scanned: 27 });
    expect(preview.unknown?.count).toBe(25);
    expect(preview.unknown?.ids).toEqual(missing.slice(0, 20));
    expect(preview.sample.map((d) => d.id)).toEqual(['d-1', 'd-2']);
  });

  it('past one scan, scales a selector from a fair sample and says it is an estimate', async () => {
    const total = 2 * PREVIEW_SCAN;
    // Every third device on site "north": a third of the fleet, wherever its ids hash to.
    const ids = Array.from({ length: total }, (_, i) => ({
      deviceId: `big-${i}`,
      model: 'cam-a',
      labels: { site: i % 3 === 0 ? 'north' : 'south' },
    }));
    for (let i = 0; i < ids.length; i += PROVISION_BATCH_MAX) {
      await pod.fleet.credentials.provisionMany({ devices: ids.slice(i, i + PROVISION_BATCH_MAX) }, 'test');
    }
    const preview = await pod.fleet.inventory.preview({ kind: 'selector', selector: 'site=north' });
    expect(preview).toMatchObject({ exact: false, scanned: PREVIEW_SCAN, fleet: total, online: 0 });
    const third = Math.ceil(total / 3);
    expect(Math.abs(preview.matched - third)).toBeLessThan(third * 0.1);
    expect(preview.sample).toHaveLength(PREVIEW_SAMPLE);
    expect(preview.sample.every((d) => d.labels.site === 'north')).toBe(true);

    // `all` past one scan takes the counters: exact.
    expect(await pod.fleet.inventory.preview({ kind: 'all' })).toMatchObject({ matched: total, exact: true });
  });
});
