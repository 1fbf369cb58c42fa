// Over 400 lines: every case plays snapshots through the one fake watch subscription defined here.
import type { RolloutStatus } from '@camfleet/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stripAnsi } from '../../table.js';
import {
  hasAnsi,
  NOW,
  type Observer,
  rolloutFixture,
  run,
  serverError,
  wavedFixture,
} from '../../test-helpers.js';
import { isSettled, settledExitCode } from './watch.js';

const ID = 'ro_xyz789';

/**
 * A watch subscription that plays the given snapshots, one per microtask, then stays open. All of
 * them come before any timer can run, so before any --timeout, however busy the machine.
 */
function playing(snapshots: RolloutStatus[], state = { unsubscribed: 0 }) {
  return {
    state,
    subscriptions: {
      'rollout.watch': (_input: unknown, observer: Observer) => {
        let stopped = false;
        (async () => {
          for (const snapshot of snapshots) {
            // Never synchronously: subscribe() has returned before the first snapshot.
            await Promise.resolve();
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
  it('ends on completed (with something targeted), canceled or aborted', () => {
    expect(isSettled(rolloutFixture({ queued: 1, succeeded: 1 }))).toBe(false);
    expect(isSettled(rolloutFixture({ succeeded: 1, failed: 1 }))).toBe(true);
    expect(isSettled(rolloutFixture({}, { status: 'canceled' }))).toBe(true);
    expect(isSettled(rolloutFixture({ succeeded: 1, queued: 1 }, { status: 'aborted' }))).toBe(true);
    // The server never calls an empty rollout completed; if it did, keep waiting for devices.
    expect(isSettled(rolloutFixture({}, { status: 'completed' }))).toBe(false);
  });

  it('does not end while paused or between waves, even with nothing in progress', () => {
    expect(isSettled(rolloutFixture({ succeeded: 2 }, { status: 'paused' }))).toBe(false);
    const betweenWaves = wavedFixture([10, 100], [{ succeeded: 1 }], { gate: { kind: 'operator', wave: 1 } });
    expect(betweenWaves.status).toBe('active');
    expect(isSettled(betweenWaves)).toBe(false);
  });

  it('counts verifying as in progress', () => {
    expect(isSettled(rolloutFixture({ succeeded: 2, verifying: 1 }))).toBe(false);
  });

  it('exits 0 only when the rollout completed and every targeted delivery succeeded', () => {
    expect(settledExitCode(allGood)).toBe(0);
    expect(settledExitCode(someFailed)).toBe(1);
    expect(settledExitCode(rolloutFixture({ succeeded: 1, canceled: 1 }, { status: 'canceled' }))).toBe(1);
    expect(settledExitCode(rolloutFixture({}, { status: 'canceled' }))).toBe(1);
    expect(settledExitCode(rolloutFixture({ succeeded: 3 }, { status: 'aborted' }))).toBe(1);
    expect(settledExitCode(rolloutFixture({ succeeded: 3 }, { status: 'canceled' }))).toBe(1);
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
    expect(lines[0]).toBe(
      '2025-03-01 12:00:00Z ro_xyz789 active wave 1/1 0/3 finished succeeded=0 failed=0 canceled=0 queued=3 offered=0 downloading=0 installing=0 verifying=0',
    );
    expect(lines[3]).toMatch(/ro_xyz789 completed wave 1\/1 3\/3 finished succeeded=3/);
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
    expect(empty.status).toBe('active');
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

describe('rollout watch: a timeout that passes before the first answer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A `rollout.get` that answers only when told to, and says when it has been asked. */
  function heldQuery() {
    let asked: () => void = () => {};
    let answer: (outcome: () => RolloutStatus) => void = () => {};
    const wasAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const outcome = new Promise<() => RolloutStatus>((resolve) => {
      answer = resolve;
    });
    return {
      route: async () => {
        asked();
        return (await outcome)();
      },
      wasAsked,
      answer,
    };
  }

  /**
   * `fleet rollout watch ID --timeout 60ms …` with the first query held until the (fake) clock has
   * passed the timeout. The watch sets its timer before it asks, so once asked, advancing the clock
   * fires it. The subscription would settle the rollout at once: only a watch that has timed out
   * does not open it.
   */
  async function timedOutBeforeTheAnswer(args: string[], outcome: () => RolloutStatus, signal?: AbortSignal) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const get = heldQuery();
    const play = playing([allGood]);
    const running = run(['rollout', 'watch', ID, '--timeout', '60ms', ...args], {
      routes: { 'rollout.get': get.route },
      ...play,
      ...(signal ? { signal } : {}),
    });
    await get.wasAsked;
    await vi.advanceTimersByTimeAsync(60);
    return { running, answer: () => get.answer(outcome), play };
  }

  it('waits for that answer and prints it, with --json too, and exits 3', async () => {
    const watch = await timedOutBeforeTheAnswer(['--json'], () => start);
    watch.answer();
    const result = await watch.running;
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toEqual(start);
    expect(result.stderr).toBe(
      'error: timed out after 60ms waiting for rollout ro_xyz789 to settle (0/3 finished)\n',
    );
    expect(result.calls.map((c) => c.path)).toEqual(['rollout.get']);
    expect(watch.play.state.unsubscribed).toBe(0);
  });

  it('prints the status line off a TTY', async () => {
    const watch = await timedOutBeforeTheAnswer([], () => start);
    watch.answer();
    const result = await watch.running;
    expect(result.code).toBe(3);
    // The answer is shown like any status (one line per change), then the summary.
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ro_xyz789 active wave 1\/1 0\/3 finished .* queued=3 /);
    expect(lines[1]).toBe('ro_xyz789 active: 0/3 finished, 0 succeeded, 3 in progress');
  });

  it('ends as the answer says when the rollout has settled by then', async () => {
    const watch = await timedOutBeforeTheAnswer(['--json'], () => someFailed);
    watch.answer();
    const result = await watch.running;
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual(someFailed);
    expect(result.calls.map((c) => c.path)).toEqual(['rollout.get']);
  });

  it("exits with the query's error, e.g. 4 for a missing rollout", async () => {
    const watch = await timedOutBeforeTheAnswer(['--json'], () => {
      throw serverError('NOT_FOUND', 'NOT_FOUND', `rollout ${ID} not found`, 404);
    });
    watch.answer();
    const result = await watch.running;
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
  });

  it('still stops on Ctrl-C (130) while it waits', async () => {
    const controller = new AbortController();
    const watch = await timedOutBeforeTheAnswer(['--json'], () => start, controller.signal);
    controller.abort();
    const result = await watch.running;
    expect(result.code).toBe(130);
    expect(result.stdout).toBe('');
    watch.answer();
  });
});

describe('rollout watch: waves and gates', () => {
  const waves = [10, 100];
  const wave1 = wavedFixture(waves, [{ queued: 1 }]);
  const wave1Done = wavedFixture(waves, [{ succeeded: 1 }], {
    gate: { kind: 'success', wave: 0, needed: 1, reached: 1 },
  });
  const soaking = wavedFixture(waves, [{ succeeded: 1 }], {
    gate: { kind: 'soak', wave: 0, until: NOW + 10 * 60_000 },
  });
  const paused = wavedFixture(waves, [{ succeeded: 1 }, { queued: 9 }], {
    status: 'paused',
    reason: 'maintenance',
    statusBy: 'bob',
    gate: { kind: 'paused', reason: 'maintenance' },
  });
  const wave2 = wavedFixture(waves, [{ succeeded: 1 }, { installing: 4, verifying: 5 }]);
  const done = wavedFixture(waves, [{ succeeded: 1 }, { succeeded: 9 }]);

  it('shows the wave and the gate on each line, and a new line when only the gate changes', async () => {
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => wave1 },
      ...playing([wave1Done, soaking, wave2, done]),
    });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/ro_xyz789 active wave 1\/2 0\/1 finished .* queued=1 /);
    expect(lines[1]).toMatch(/ 1\/1 finished .* \| waiting for wave 1 to reach 100% success \(100% now\)$/);
    expect(lines[2]).toMatch(/ 1\/1 finished .* \| soaking until 12:10:00Z \(in 10m\)$/);
    expect(lines[3]).toMatch(/ro_xyz789 active wave 2\/2 1\/10 finished .* installing=4 verifying=5$/);
    expect(lines[4]).toMatch(/ro_xyz789 completed wave 2\/2 10\/10 finished succeeded=10 /);
    expect(lines[5]).toBe('ro_xyz789 completed, wave 2/2: 10/10 finished, 10 succeeded');
  });

  it('keeps watching a paused rollout, showing why, and exits 0 once it completes', async () => {
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => paused },
      ...playing([paused, wave2, done]),
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/ro_xyz789 paused wave 2\/2 1\/10 finished .* \| paused: maintenance$/);
    expect(lines.at(-1)).toBe('ro_xyz789 completed, wave 2/2: 10/10 finished, 10 succeeded');
  });

  it('keeps watching between waves while an operator has to advance', async () => {
    const waiting = wavedFixture(waves, [{ succeeded: 1 }], {
      advance: 'manual',
      gate: { kind: 'operator', wave: 1 },
    });
    const result = await run(['rollout', 'watch', ID, '--json'], {
      routes: { 'rollout.get': () => waiting },
      ...playing([waiting, wave2, done]),
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(done);
  });

  it('exits 1 when the rollout is aborted, with the reason', async () => {
    const aborted = wavedFixture(waves, [{ succeeded: 1 }, { succeeded: 3, failed: 2, queued: 4 }], {
      status: 'aborted',
      reason: '2 of 6 deliveries failed (threshold 10%)',
      statusBy: null,
    });
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => wave2 },
      ...playing([aborted]),
    });
    expect(result.code).toBe(1);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
      'ro_xyz789 aborted, wave 2/2: 6/10 finished, 4 succeeded, 2 failed, 4 in progress (2 of 6 deliveries failed (threshold 10%))',
    );
    expect(result.stderr).toBe(
      'error: rollout ro_xyz789 was aborted (2 of 6 deliveries failed (threshold 10%)): 6/10 finished, 4 succeeded, 2 failed, 4 in progress\n',
    );
  });

  it('exits 1 when paused and then canceled, naming who canceled it', async () => {
    const canceled = wavedFixture(waves, [{ succeeded: 1 }, { canceled: 9 }], {
      status: 'canceled',
      reason: 'bad build',
      statusBy: 'carol',
    });
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => paused },
      ...playing([canceled]),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: rollout ro_xyz789 was canceled \(by carol: bad build\): /);
  });

  it('does not end while deliveries are verifying', async () => {
    const verifying = rolloutFixture({ succeeded: 2, verifying: 1 });
    const result = await run(['rollout', 'watch', ID, '--timeout', '60ms'], {
      routes: { 'rollout.get': () => verifying },
      ...playing([verifying]),
    });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/ 2\/3 finished .* verifying=1\n/);
  });

  it('names the gate when it times out', async () => {
    const result = await run(['rollout', 'watch', ID, '--timeout', '40ms'], {
      routes: { 'rollout.get': () => paused },
      ...playing([]),
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      'error: timed out after 40ms waiting for rollout ro_xyz789 to settle (1/10 finished; paused: maintenance)\n',
    );
  });

  it('shows the status, the wave and the gate on the progress bar', async () => {
    const result = await run(['rollout', 'watch', ID], {
      routes: { 'rollout.get': () => soaking },
      ...playing([wave2, done]),
      tty: true,
    });
    expect(result.code).toBe(0);
    const text = stripAnsi(result.stdout);
    expect(text).toMatch(/wave 1\/2 \| soaking until 12:10:00Z \(in 10m\)/);
    expect(text).toMatch(/completed .* \| wave 2\/2/);
  });
});
