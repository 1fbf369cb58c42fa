import type { FleetStats, RolloutStatus } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { podPerSuite } from '../testing/wire.js';
import { Inventory } from './inventory.js';

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

  it('fleet figures are read from counts: the same Redis calls for any fleet size, each pod as it counts its devices', async () => {
    const { deps } = suite.pod.pod.fleet;
    const calls: string[] = [];
    // The real Redis answers; the proxy only writes down which calls stats() makes.
    const counted = new Proxy(deps.redis, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(name));
          return value.apply(target, args);
        };
      },
    });
    const inventory = new Inventory({ ...deps, redis: counted });
    const instance = suite.pod.pod.instance;
    const held = async (n: number) =>
      waitFor(
        async () => {
          const stats = await inventory.stats();
          return stats.nodes.find((node) => node.node === instance)?.devices === n ? stats : null;
        },
        { what: `the pod to count ${n} devices` },
      );
    const callsOfOneRead = async () => {
      calls.length = 0;
      await inventory.stats();
      return [...calls].sort();
    };
    // Devices an earlier test left connected, once the pod has written down that it holds them.
    const base = suite.pod.pod.fleet.sessions.size;
    await held(base);
    const small = await Promise.all(['fig-1', 'fig-2'].map((id) => suite.pod.registeredDevice(id)));
    const few = await held(base + 2);
    const fewCalls = await callsOfOneRead();
    const more = await Promise.all(
      Array.from({ length: 30 }, (_, i) => suite.pod.registeredDevice(`fig-more-${i}`)),
    );
    const many = await held(base + 32);
    expect(many.online - few.online).toBe(30);
    expect(many.devices - few.devices).toBe(30);
    expect(await callsOfOneRead()).toEqual(fewCalls);
    // No call that returns devices: sizes (ZCARD, HLEN), the pod leases and their counts.
    expect(new Set(fewCalls)).toEqual(new Set(['zcard', 'hlen', 'zrange', 'hgetall']));
    for (const device of [...small, ...more]) device.wsClient.close();
    await held(base);
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
