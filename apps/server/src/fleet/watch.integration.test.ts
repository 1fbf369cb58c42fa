import type { FleetStats, RolloutStatus } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { podPerSuite } from '../testing/wire.js';

const suite = podPerSuite();

describe('live overview subscriptions (what the dashboard shows without polling)', () => {
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
});
