import { describe, expect, it } from 'vitest';
import { NOW, rolloutFixture, run, serverError, wavedFixture } from '../../test-helpers.js';

const ID = 'ro_xyz789';

describe('pause, resume, advance, cancel', () => {
  const paused = rolloutFixture(
    { succeeded: 2, queued: 3 },
    {
      status: 'paused',
      reason: 'maintenance window',
      statusBy: 'bob',
      statusAt: NOW - 30_000,
      gate: { kind: 'paused', reason: 'maintenance window' },
    },
  );
  const advanced = wavedFixture([10, 50, 100], [{ succeeded: 1 }, { queued: 4 }]);
  const canceled = rolloutFixture(
    { succeeded: 2, canceled: 3 },
    { status: 'canceled', reason: 'bad build', statusBy: 'carol', statusAt: NOW },
  );
  const actions = {
    'rollout.pause': () => paused,
    'rollout.resume': () => rolloutFixture({ succeeded: 2, queued: 3 }),
    'rollout.advance': () => advanced,
    'rollout.cancel': () => canceled,
  };

  it.each([
    [
      ['pause', ID, '--reason', 'maintenance window'],
      'rollout.pause',
      { rolloutId: ID, reason: 'maintenance window' },
    ],
    [['pause', ID], 'rollout.pause', { rolloutId: ID }],
    [['resume', ID], 'rollout.resume', { rolloutId: ID }],
    [['advance', ID], 'rollout.advance', { rolloutId: ID }],
    [['cancel', ID, '--reason', 'bad build'], 'rollout.cancel', { rolloutId: ID, reason: 'bad build' }],
    [['cancel', ID], 'rollout.cancel', { rolloutId: ID }],
  ])('%j sends %s %j', async (argv, path, input) => {
    const result = await run(['rollout', ...argv], { routes: actions });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path, input }]);
  });

  it('print the resulting status line', async () => {
    const pause = await run(['rollout', 'pause', ID, '--reason', 'maintenance window'], { routes: actions });
    expect(pause.stdout).toBe(
      'ro_xyz789 paused: 2/5 finished, 2 succeeded, 3 in progress (by bob: maintenance window)\n',
    );
    const resume = await run(['rollout', 'resume', ID], { routes: actions });
    expect(resume.stdout).toBe('ro_xyz789 active: 2/5 finished, 2 succeeded, 3 in progress\n');
    const advance = await run(['rollout', 'advance', ID], { routes: actions });
    expect(advance.stdout).toBe('ro_xyz789 active, wave 2/3: 1/5 finished, 1 succeeded, 4 in progress\n');
    const cancel = await run(['rollout', 'cancel', ID], { routes: actions });
    expect(cancel.stdout).toBe(
      'ro_xyz789 canceled: 5/5 finished, 2 succeeded, 3 canceled (by carol: bad build)\n',
    );
  });

  it('note the gate on stderr when something still holds the rollout back', async () => {
    const gated = wavedFixture([10, 100], [{ succeeded: 1 }], {
      advance: 'manual',
      gate: { kind: 'operator', wave: 1 },
    });
    const result = await run(['rollout', 'resume', ID], { routes: { 'rollout.resume': () => gated } });
    expect(result.stderr).toBe(`waiting for an operator to open wave 2: fleet rollout advance ${ID}\n`);
  });

  it.each(['pause', 'resume', 'advance', 'cancel'])('%s --json prints the RolloutStatus', async (action) => {
    const result = await run(['rollout', action, ID, '--json'], { routes: actions });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const path = `rollout.${action}` as keyof typeof actions;
    expect(JSON.parse(result.stdout)).toEqual(actions[path]());
  });

  it.each([
    [['pause', 'nope'], /invalid rollout id 'nope'/],
    [['pause', ID, '--reason', 'x'.repeat(501)], /^error: invalid --reason: Too big: .*500/],
    [['resume', ID, '--reason', 'why'], /unknown option '--reason'/],
    [['advance', ID, '--reason', 'why'], /unknown option '--reason'/],
    [['advance'], /missing required argument 'id'/],
    [['cancel', 'ro_UPPER'], /invalid rollout id/],
  ])('%j: exit 2, nothing sent', async (argv, message) => {
    const result = await run(['rollout', ...argv], { routes: actions });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.calls).toEqual([]);
  });

  it('map a refused transition to exit 6', async () => {
    const result = await run(['rollout', 'resume', ID], {
      routes: {
        'rollout.resume': () => {
          throw serverError('CONFLICT', 'INVALID_TRANSITION', 'rollout ro_xyz789 is not paused', 409);
        },
      },
    });
    expect(result.code).toBe(6);
    expect(result.stderr).toBe('error: conflict: rollout ro_xyz789 is not paused\n');
  });
});
