import type { RolloutStatus } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { hasAnsi, type Observer, rolloutFixture, run, serverError } from '../test-helpers.js';
import { isSettled, settledExitCode } from './watch.js';

const ID = 'ro_xyz789';

/** A watch subscription that plays the given snapshots, one per tick, then stays open. */
function playing(snapshots: RolloutStatus[], state = { unsubscribed: 0 }) {
  return {
    state,
    subscriptions: {
      'rollout.watch': (_input: unknown, observer: Observer) => {
        let stopped = false;
        (async () => {
          for (const snapshot of snapshots) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            if (stopped) return;
            observer.onData?.(snapshot);
          }
        })();
        return () => {
          stopped = true;
          state.unsubscribed++;
        };
      },
    },
  };
}

const start = rolloutFixture({ queued: 3 });
const progressing = [
  rolloutFixture({ queued: 1, downloading: 1, succeeded: 1 }),
  rolloutFixture({ installing: 1, succeeded: 2 }),
];
const allGood = rolloutFixture({ succeeded: 3 });
const someFailed = rolloutFixture({ succeeded: 2, failed: 1 });

describe('settling', () => {
  it('needs targeted devices and nothing open, or a cancel', () => {
    expect(isSettled(rolloutFixture())).toBe(false); // completed, but nothing targeted yet
    expect(isSettled(rolloutFixture({ queued: 1, succeeded: 1 }))).toBe(false);
    expect(isSettled(rolloutFixture({ succeeded: 1, failed: 1 }))).toBe(true);
    expect(isSettled(rolloutFixture({}, { status: 'canceled' }))).toBe(true);
  });

  it('exits 0 only when every targeted delivery succeeded', () => {
    expect(settledExitCode(allGood)).toBe(0);
    expect(settledExitCode(someFailed)).toBe(1);
    expect(settledExitCode(rolloutFixture({ succeeded: 1, canceled: 1 }, { status: 'canceled' }))).toBe(1);
    expect(settledExitCode(rolloutFixture({}, { status: 'canceled' }))).toBe(1);
  });
});

describe('rollout watch', () => {
  it('prints one line per change off a TTY and exits 0 when all succeeded', async () => {
    const play = playing([start, ...progressing, progressing[1] as RolloutStatus, allGood]);
    const result = await run(['rollout', 'watch', ID], { routes: { 'rollout.get': () => start }, ...play });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(hasAnsi(result.stdout)).toBe(false);
    const lines = result.stdout.trimEnd().split('\n');
    // start (from the query; the same snapshot from the subscription is not repeated), 2 changes, final, summary
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(
      /^2025-03-01 12:00:00Z ro_xyz789 active 0\/3 finished succeeded=0 failed=0 canceled=0 queued=3 offered=0 downloading=0 installing=0$/,
    );
    expect(lines[3]).toMatch(/ro_xyz789 completed 3\/3 finished succeeded=3/);
    expect(lines[4]).toBe('ro_xyz789 completed: 3/3 finished, 3 succeeded');
    expect(result.calls.map((c) => c.path)).toEqual(['rollout.get', 'rollout.watch']);
    expect(result.calls[1]?.input).toEqual({ rolloutId: ID, intervalMs: 500 });
    expect(play.state.unsubscribed).toBe(1);
  });

  it('exits 1 with a one-line reason when something failed', async () => {
    const play = playing([someFailed]);
    const result = await run(['rollout', 'watch', ID], { routes: { 'rollout.get': () => start }, ...play });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: rollout ro_xyz789 did not fully succeed: 3/3 finished, 2 succeeded, 1 failed\n',
    );
  });

  it('exits 1 when the rollout is canceled', async () => {
    const canceled = rolloutFixture({ succeeded: 1, canceled: 2 }, { status: 'canceled' });
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => start },
      ...playing([canceled]),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/was canceled/);
  });

  it('with --json prints exactly one document: the final status', async () => {
    const result = await run(['rollout', 'watch', ID, '--json'], {
      routes: { 'rollout.get': () => start },
      ...playing([...progressing, allGood]),
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(allGood);
    expect(result.stderr).toBe('');
  });

  it('exits 3 on --timeout, still printing the last status with --json', async () => {
    const result = await run(['rollout', 'watch', ID, '--timeout', '60ms', '--json'], {
      routes: { 'rollout.get': () => start },
      ...playing(progressing),
    });
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toEqual(progressing[1]);
    expect(result.stderr).toMatch(
      /^error: timed out after 60ms waiting for rollout ro_xyz789 to settle \(2\/3 finished\)\n$/,
    );
  });

  it('keeps waiting while nothing is targeted yet', async () => {
    const empty = rolloutFixture();
    expect(empty.status).toBe('completed');
    const result = await run(['rollout', 'watch', ID, '--timeout', '40ms'], {
      routes: { 'rollout.get': () => empty },
      ...playing([empty]),
    });
    expect(result.code).toBe(3);
  });

  it('ends at once when the rollout has already settled', async () => {
    const result = await run(['rollout', 'watch', ID, '--json'], {
      routes: { 'rollout.get': () => allGood },
    });
    expect(result.code).toBe(0);
    expect(result.calls.map((c) => c.path)).toEqual(['rollout.get']);
    expect(JSON.parse(result.stdout)).toEqual(allGood);
  });

  it('fails fast on a missing rollout (exit 4) without subscribing', async () => {
    const missing = () => {
      throw serverError('NOT_FOUND', 'NOT_FOUND', `rollout ${ID} not found`, 404);
    };
    const result = await run(['rollout', 'watch', ID, '--json'], { routes: { 'rollout.get': missing } });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.calls.map((c) => c.path)).toEqual(['rollout.get']);
  });

  it('maps a subscription error to its exit code', async () => {
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => start },
      subscriptions: {
        'rollout.watch': (_input, observer) => {
          setTimeout(() => observer.onError?.(serverError('FORBIDDEN', 'FORBIDDEN', 'nope', 403)), 5);
          return () => {};
        },
      },
    });
    expect(result.code).toBe(5);
  });

  it('stops on Ctrl-C (130) and unsubscribes', async () => {
    const controller = new AbortController();
    const play = playing([]);
    setTimeout(() => controller.abort(), 30);
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => start },
      ...play,
      signal: controller.signal,
    });
    expect(result.code).toBe(130);
    expect(play.state.unsubscribed).toBe(1);
  });

  it('draws a progress bar on a TTY', async () => {
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => start },
      ...playing([...progressing, allGood]),
      tty: true,
    });
    expect(result.code).toBe(0);
    expect(hasAnsi(result.stdout)).toBe(true);
    expect(result.stdout).toMatch(/3\/3 finished/);
    expect(result.stdout).toContain('\u001b[?25l'); // cursor hidden while drawing…
    expect(result.stdout).toContain('\u001b[?25h'); // …and shown again
  });

  it('rejects a bad --interval', async () => {
    const result = await run(['rollout', 'watch', ID, '--interval', '10ms']);
    expect(result.code).toBe(2);
    expect(result.connects).toEqual([]);
  });
});
