import type { FleetEvent } from '@camfleet/contracts';
import { isCluster } from '@camfleet/redis';
import { connectTestRedis, startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptDriver } from '../testing/script-driver.js';
import { Events } from './events.js';

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
      `${rollout.id} attached`,
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
    const { seen, stop } = pod.followEvents();
    await waitFor(() => pod.fleet.events.feed.liveFollowers === 1, { what: 'the follower to follow' });
    const rollout = await pod.rollout((await pod.publish()).id);
    await waitFor(() => seen.some((e) => e.kind === 'rollout' && e.rolloutId === rollout.id), {
      what: 'live event',
    });
    const created = seen.find((e) => e.kind === 'rollout' && e.rolloutId === rollout.id)!;
    await pod.fleet.rollouts.pause(rollout.id, 'ops');
    await waitFor(() => seen.some((e) => e.kind === 'rollout' && e.type === 'paused'), {
      what: 'pause event',
    });
    await stop();

    // A follower that saw `created` and reconnects gets what came after it.
    const { seen: again, stop: stopResumed } = pod.followEvents({ rolloutId: rollout.id, after: created.id });
    await waitFor(() => again.some((e) => e.kind === 'rollout' && e.type === 'paused'), {
      what: 'resumed stream',
    });
    await stopResumed();
    expect(again.some((e) => e.id === created.id)).toBe(false);
  });

  it('reads with one blocking XREAD where the engine allows it, and drops a follower that falls behind', async () => {
    const blocking = !isCluster(pod.redis);
    const events = new Events({
      ...pod.fleet.deps,
      events: {
        followerQueue: 10,
        ...(blocking ? { connectBlocking: () => connectTestRedis(server.url) } : {}),
      },
    });
    const keeping = new AbortController();
    const kept: FleetEvent[] = [];
    const keeper = (async () => {
      for await (const event of events.follow({ rolloutId: null, after: null, signal: keeping.signal }))
        kept.push(event);
    })();
    // A follower that takes its first event and then stops reading.
    const lagging = events.follow({ rolloutId: null, after: null, signal: new AbortController().signal });
    const firstOfLagging = lagging.next();
    await waitFor(() => events.feed.liveFollowers === 2, { what: 'both followers to follow' });
    const patch = await pod.publish();
    // One batch at a time: each rollout is seen by the reading follower before the next is made.
    // 25 rounds of at least one event each: more than the 10 the lagging follower may hold.
    for (let i = 0; i < 25; i++) {
      const { id } = await pod.rollout(patch.id);
      await waitFor(() => kept.some((e) => e.kind === 'rollout' && e.rolloutId === id), {
        what: `the reading follower to see rollout ${i + 1}`,
      });
    }
    expect((await firstOfLagging).done).toBe(false);
    // More than 10 events waited for it: once it has taken what its first batch held, it is told
    // which limit it hit (it resumes by id from there), and it never gets everything the other did.
    let refusal: unknown = null;
    for (let taken = 1; refusal === null && taken < kept.length; taken++) {
      refusal = await lagging.next().then(
        () => null,
        (error: unknown) => error,
      );
    }
    expect(refusal).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      cause: { limit: { name: 'follower_too_slow' } },
    });
    expect(events.feed.liveFollowers).toBe(1);
    keeping.abort();
    await keeper;
    expect(events.feed.liveFollowers).toBe(0);
  });
});
