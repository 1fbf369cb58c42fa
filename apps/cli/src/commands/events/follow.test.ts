import type { FleetEvent } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import {
  deliveryEventFixture,
  hasAnsi,
  NOW,
  networkError,
  type Observer,
  run,
  serverError,
  TEST_ENV,
} from '../../test-helpers.js';
import { RecentIds } from './follow.js';
import { created, failed, offered, queued } from './test-fixtures.js';

const ID = 'ro_xyz789';

/**
 * An `events.follow` subscription that plays the given events as tracked envelopes, one per
 * tick, then does `after` (by default: Ctrl-C, so the command ends).
 */
function playing(events: FleetEvent[], after: (observer: Observer, controller: AbortController) => void) {
  const controller = new AbortController();
  const state = { unsubscribed: 0, delivered: 0 };
  return {
    state,
    signal: controller.signal,
    subscriptions: {
      'events.follow': (_input: unknown, observer: Observer) => {
        let stopped = false;
        (async () => {
          for (const event of events) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            if (stopped) return;
            observer.onData?.({ id: event.id, data: event });
            state.delivered++;
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (!stopped) after(observer, controller);
        })();
        return () => {
          stopped = true;
          state.unsubscribed++;
        };
      },
    },
  };
}

const ctrlC = (_observer: Observer, controller: AbortController) => controller.abort();

describe('events --follow', () => {
  const first = [created, queued, offered];
  const routes = { 'events.list': () => first };
  const downloading = deliveryEventFixture('1740830380000-0/b1', { at: NOW - 20_000 });
  const installing = deliveryEventFixture('1740830390000-0/b1', {
    at: NOW - 10_000,
    from: 'downloading',
    to: 'installing',
  });

  it('prints the newest 20, then new events one line each, deduping by id, until Ctrl-C (130)', async () => {
    // After a resume the stream repeats what the list already had, and a live event comes twice.
    const play = playing([offered, downloading, downloading, installing, failed, installing], ctrlC);
    const result = await run(['events', '--follow'], { routes, ...play, signal: play.signal });
    expect(result.code).toBe(130);
    expect(result.stderr).toBe('error: interrupted\n');
    expect(play.state.delivered).toBe(6);
    expect(play.state.unsubscribed).toBe(1);
    expect(result.calls).toEqual([
      { path: 'events.list', input: { limit: 20 } },
      // The stream starts after the last listed event: nothing falls in between.
      { path: 'events.follow', input: { lastEventId: offered.id } },
    ]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.replace(/\s+/g, ' '))).toEqual([
      'TIME ROLLOUT DEVICE EVENT ATTEMPT DETAIL',
      '2025-03-01 11:59:00Z ro_xyz789 - created - by alice',
      '2025-03-01 11:59:30Z ro_xyz789 cam-1 → queued 0 -',
      '2025-03-01 11:59:30Z ro_xyz789 cam-1 queued → offered 1 -',
      '2025-03-01 11:59:40Z ro_xyz789 cam-1 offered → downloading 1 -',
      '2025-03-01 11:59:50Z ro_xyz789 cam-1 downloading → installing 1 -',
      '2025-03-01 11:59:31Z ro_xyz789 cam-22 installing → failed 3 checksum mismatch',
    ]);
    // Same columns for the first events and the new ones: every DETAIL starts in one place.
    const detailAt = lines.map((line) => line.lastIndexOf('   ') + 3);
    expect(new Set(detailAt).size).toBe(1);
    expect(lines.filter((line) => line.startsWith('TIME'))).toHaveLength(1);
  });

  it('follows one rollout, with --limit', async () => {
    const play = playing([], ctrlC);
    const result = await run(['events', '--follow', '--rollout', ID, '--limit', '2'], {
      routes,
      ...play,
      signal: play.signal,
    });
    expect(result.code).toBe(130);
    expect(result.calls).toEqual([
      { path: 'events.list', input: { rolloutId: ID, limit: 2 } },
      { path: 'events.follow', input: { rolloutId: ID, lastEventId: offered.id } },
    ]);
  });

  it('with nothing yet prints the header, says it is waiting, and follows from now', async () => {
    const play = playing([downloading], ctrlC);
    const result = await run(['events', '--follow'], {
      routes: { 'events.list': () => [] },
      ...play,
      signal: play.signal,
    });
    expect(result.code).toBe(130);
    expect(result.calls[1]).toEqual({ path: 'events.follow', input: {} });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    // Wide enough up front for a timestamp, a rollout id and any state change.
    expect(lines[0]?.indexOf('ROLLOUT')).toBe(23);
    expect(lines[1]).toMatch(/^2025-03-01 11:59:40Z {3}ro_xyz789 +cam-1 +offered → downloading +1 {3}-$/);
    expect(lines[1]?.indexOf('cam-1')).toBe(lines[0]?.indexOf('DEVICE'));
    expect(result.stderr).toBe('no events yet; waiting for new ones (Ctrl-C to stop)\nerror: interrupted\n');
  });

  it('with --json prints one JSON object per line (NDJSON), deduped', async () => {
    const play = playing([offered, downloading, downloading], ctrlC);
    const result = await run(['events', '--follow', '--json'], {
      routes,
      ...play,
      signal: play.signal,
      tty: true,
    });
    expect(result.code).toBe(130);
    expect(hasAnsi(result.stdout)).toBe(false);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([...first, downloading]);
    expect(result.stderr).toBe('error: interrupted\n');
  });

  it('stops on Ctrl-C while waiting for the first events', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const result = await run(['events', '--follow'], {
      routes: { 'events.list': () => new Promise(() => {}) },
      signal: controller.signal,
    });
    expect(result.code).toBe(130);
    expect(result.calls.map((c) => c.path)).toEqual(['events.list']);
  });

  it('fails fast when the list fails, without subscribing', async () => {
    const unreachable = () => {
      throw networkError('ECONNREFUSED');
    };
    const result = await run(['events', '--follow'], { routes: { 'events.list': unreachable } });
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(/^error: cannot reach the fleet server at http:\/\/fleet\.test:8080/);
    expect(result.calls.map((c) => c.path)).toEqual(['events.list']);
  });

  it('exits 7 when the stream fails, after printing what came', async () => {
    const play = playing([downloading], (observer) =>
      observer.onError?.(serverError('INTERNAL_SERVER_ERROR', null, 'redis went away')),
    );
    const result = await run(['events', '--follow'], { routes, ...play });
    expect(result.code).toBe(7);
    expect(result.stderr).toBe('error: the event stream failed: server error: redis went away\n');
    expect(result.stdout).toMatch(/offered → downloading/);
    expect(play.state.unsubscribed).toBe(1);
  });

  it('resumes after the last event shown when the pod drops it as too slow a follower', async () => {
    // The first stream brings one event and then the refusal; the second what came after it.
    const tooSlow = serverError(
      'TOO_MANY_REQUESTS',
      'TOO_MANY_REQUESTS',
      'more than 5000 events waited',
      429,
    );
    (tooSlow.data as Record<string, unknown>).limit = {
      name: 'follower_too_slow',
      knob: 'X',
      retryAfterSeconds: 1,
    };
    const first = playing([downloading], (observer) => observer.onError?.(tooSlow));
    const second = playing([installing], ctrlC);
    let streams = 0;
    const result = await run(['events', '--follow'], {
      routes,
      subscriptions: {
        'events.follow': (input: unknown, observer: Observer) =>
          (streams++ === 0 ? first : second).subscriptions['events.follow'](input, observer),
      },
      signal: second.signal,
    });
    expect(result.code).toBe(130);
    expect(result.calls.filter((c) => c.path === 'events.follow')).toEqual([
      { path: 'events.follow', input: { lastEventId: offered.id } },
      { path: 'events.follow', input: { lastEventId: downloading.id } },
    ]);
    expect(result.stdout).toMatch(/offered → downloading[\s\S]*downloading → installing/);
  });

  it('keeps the exit code of a telling stream error', async () => {
    const play = playing([], (observer) =>
      observer.onError?.(serverError('FORBIDDEN', 'FORBIDDEN', 'role viewer required', 403)),
    );
    const result = await run(['events', '--follow', '--json'], { routes, ...play });
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/^error: access denied/);
  });

  it('exits 7 when the server ends the stream', async () => {
    const play = playing([], (observer) => observer.onComplete?.());
    const result = await run(['events', '--follow'], { routes, ...play, env: TEST_ENV });
    expect(result.code).toBe(7);
    expect(result.stderr).toBe('error: the server ended the event stream\n');
  });
});

describe('RecentIds', () => {
  it('says whether an id is new, forgetting the oldest beyond its capacity', () => {
    const ids = new RecentIds(2);
    expect(ids.add('a')).toBe(true);
    expect(ids.add('a')).toBe(false);
    expect(ids.add('b')).toBe(true);
    expect(ids.add('c')).toBe(true);
    expect(ids.add('b')).toBe(false);
    expect(ids.add('a')).toBe(true);
  });
});
