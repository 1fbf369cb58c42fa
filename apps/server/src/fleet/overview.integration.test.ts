import type { FleetStats, RolloutStatus } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { podPerSuite } from '../testing/wire.js';

const suite = podPerSuite();

describe('what the dashboard reads: live figures, the live rollouts list, filtered device pages', () => {
  it('fleet.watch pushes the figures now and again when a device connects', async () => {
    const seen: FleetStats[] = [];
    const sub = suite.pod.admin.client.fleet.watch.subscribe(
      { intervalMs: 250 },
      { onData: (stats) => seen.push(stats), onError: () => undefined },
    );
    try {
      await waitFor(() => seen.length >= 1, { what: 'the first snapshot' });
      const before = seen.at(-1)?.online ?? 0;
      const device = await suite.pod.connectDevice('watch-cam-1');
      await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
      await waitFor(() => (seen.at(-1)?.online ?? 0) === before + 1, { what: 'the connect to be pushed' });
      // Only changes are pushed: no two consecutive snapshots are the same.
      for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toEqual(seen[i - 1]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('rollout.watchList pushes the list again when a rollout appears or changes', async () => {
    const seen: RolloutStatus[][] = [];
    const sub = suite.pod.admin.client.rollout.watchList.subscribe(
      { limit: 10, intervalMs: 250 },
      { onData: (list) => seen.push(list), onError: () => undefined },
    );
    try {
      await waitFor(() => seen.length >= 1, { what: 'the first list' });
      const rollout = await suite.pod.publishAndRollOut();
      await waitFor(() => seen.at(-1)?.some((r) => r.id === rollout.id), { what: 'the new rollout' });
      await suite.pod.admin.client.rollout.pause.mutate({ rolloutId: rollout.id });
      await waitFor(() => seen.at(-1)?.find((r) => r.id === rollout.id)?.status === 'paused', {
        what: 'the pause to be pushed',
      });
    } finally {
      sub.unsubscribe();
    }
  });

  it('devices.list filters by a label selector across pages, and refuses a malformed one', async () => {
    for (const [id, site] of [
      ['sel-a1', 'north'],
      ['sel-a2', 'south'],
      ['sel-a3', 'north'],
      ['sel-a4', 'north'],
    ]) {
      const device = await suite.pod.connectDevice(id ?? '');
      await device.client.device.register.mutate({
        model: 'm',
        firmwareVersion: '1',
        labels: { site: site ?? '' },
      });
    }
    const found: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await suite.pod.admin.client.devices.list.query({
        limit: 1,
        cursor,
        selector: 'site=north',
      });
      found.push(...page.devices.map((d) => d.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(found.sort()).toEqual(['sel-a1', 'sel-a3', 'sel-a4']);
    await expect(suite.pod.admin.client.devices.list.query({ selector: 'site in (' })).rejects.toThrow();
  });
});
