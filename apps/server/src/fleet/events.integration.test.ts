import type { FleetEvent } from '@camfleet/contracts';
import { startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptDriver } from '../testing/script-driver.js';

let server: TestRedis;
let pod: ScriptDriver;

beforeAll(async () => {
  server = await startTestRedis();
  pod = new ScriptDriver(server.url, 'ev');
});
afterAll(async () => {
  await pod.close();
  await server.destroy();
});

const describeEvent = (e: FleetEvent) =>
  e.kind === 'rollout' ? `${e.rolloutId} ${e.type}` : `${e.deviceId} ${e.from ?? '-'}>${e.to}`;

describe('event stream', () => {
  it('records rollout and delivery events in order, filterable by rollout', async () => {
    await pod.register('cam-1');
    const rollout = await pod.rollout((await pod.publish()).id, { waves: [50, 100], advance: 'manual' });
    const other = await pod.rollout((await pod.publish()).id);
    await pod.fleet.rollouts.advance(rollout.id, 'ops');
    await pod.claim('cam-1');
    await pod.report('cam-1', rollout.id, 1, 'succeeded');
    await pod.fleet.rollouts.pause(other.id, 'ops', 'checking');

    const mine = await pod.fleet.events.list({ rolloutId: rollout.id, limit: 100 });
    // Each stream keeps its order; across streams, events are ordered by time (ties in any order).
    expect(mine.filter((e) => e.kind === 'rollout').map(describeEvent)).toEqual([
      `${rollout.id} created`,
      `${rollout.id} wave_opened`,
    ]);
    expect(mine.filter((e) => e.kind === 'delivery').map(describeEvent)).toEqual([
      'cam-1 ->queued',
      'cam-1 queued>offered',
      'cam-1 offered>succeeded',
    ]);
    expect(mine.map((e) => e.at)).toEqual([...mine.map((e) => e.at)].sort((a, b) => a - b));
    const all = await pod.fleet.events.list({ limit: 100 });
    expect(
      all.find((e) => e.kind === 'rollout' && e.rolloutId === other.id && e.type === 'paused'),
    ).toMatchObject({
      actor: 'ops',
      reason: 'checking',
    });
    // Paging: everything after an event, oldest first.
    const offered = mine.find((e) => e.kind === 'delivery' && e.to === 'offered')!;
    const after = await pod.fleet.events.list({ after: offered.id, rolloutId: rollout.id, limit: 100 });
    expect(after.map(describeEvent)).toContain('cam-1 offered>succeeded');
    expect(after.map((e) => e.id)).not.toContain(offered.id);
  });

  it('follows new events live and resumes after the last one seen', async () => {
    const controller = new AbortController();
    const seen: FleetEvent[] = [];
    const following = (async () => {
      for await (const event of pod.fleet.events.follow({
        rolloutId: null,
        after: null,
        signal: controller.signal,
      })) {
        seen.push(event);
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    const rollout = await pod.rollout((await pod.publish()).id);
    await waitFor(() => seen.some((e) => e.kind === 'rollout' && e.rolloutId === rollout.id), {
      what: 'live event',
    });
    const created = seen.find((e) => e.kind === 'rollout' && e.rolloutId === rollout.id)!;
    await pod.fleet.rollouts.pause(rollout.id, 'ops');
    await waitFor(() => seen.some((e) => e.kind === 'rollout' && e.type === 'paused'), {
      what: 'pause event',
    });
    controller.abort();
    await following;

    // A follower that saw `created` and reconnects gets what came after it.
    const resumed = new AbortController();
    const again: FleetEvent[] = [];
    const resuming = (async () => {
      for await (const event of pod.fleet.events.follow({
        rolloutId: rollout.id,
        after: created.id,
        signal: resumed.signal,
      })) {
        again.push(event);
      }
    })();
    await waitFor(() => again.some((e) => e.kind === 'rollout' && e.type === 'paused'), {
      what: 'resumed stream',
    });
    resumed.abort();
    await resuming;
    expect(again.some((e) => e.id === created.id)).toBe(false);
  });
});
