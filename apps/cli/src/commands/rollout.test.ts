import type { RolloutStatus } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { NOW, rolloutFixture, run, serverError, wavedFixture } from '../test-helpers.js';

const ID = 'ro_xyz789';
const CREATE = ['rollout', 'create', '--patch', 'pat_abc123'];
const created = rolloutFixture();
const routes = { 'rollout.create': () => created };

/** Runs `rollout create` with these flags and returns the input it sent. */
async function sent(...flags: string[]): Promise<unknown> {
  const result = await run([...CREATE, ...flags], { routes });
  expect(result.stderr).not.toMatch(/^error/);
  expect(result.code).toBe(0);
  expect(result.calls).toHaveLength(1);
  return result.calls[0]?.input;
}

describe('rollout create: targets', () => {
  it('--all', async () => {
    expect(await sent('--all')).toEqual({ patchId: 'pat_abc123', target: { kind: 'all' } });
  });

  it('--devices: comma-separated, repeatable, duplicates dropped', async () => {
    expect(await sent('--devices', 'cam-1, cam-2', '--devices', 'cam-3,cam-1')).toEqual({
      patchId: 'pat_abc123',
      target: { kind: 'devices', deviceIds: ['cam-1', 'cam-2', 'cam-3'] },
    });
  });

  it('--selector: checked here, sent as written', async () => {
    expect(await sent('--selector', 'site in (berlin,paris), !tier, model=cam-x1')).toEqual({
      patchId: 'pat_abc123',
      target: { kind: 'selector', selector: 'site in (berlin,paris), !tier, model=cam-x1' },
    });
  });

  it('says which target it created for', async () => {
    const result = await run([...CREATE, '--selector', 'site=berlin'], {
      routes: {
        'rollout.create': () =>
          rolloutFixture(
            { queued: 4 },
            { target: { kind: 'selector', selector: 'site=berlin' }, waves: [10, 100] },
          ),
      },
    });
    expect(result.stdout).toBe(`${ID}\n`);
    expect(result.stderr).toMatch(/to devices matching 'site=berlin' in waves 10%, 100% created: 4 targeted/);
  });

  it.each([
    [[], /choose the target devices: --all, --devices <ids> or --selector <expr>/],
    [['--all', '--devices', 'cam-1'], /--all and --devices exclude each other/],
    [['--all', '--selector', 'site=berlin'], /--all and --selector exclude each other/],
    [['--devices', 'cam-1', '--selector', 'site=berlin'], /--devices and --selector exclude each other/],
    [['--all', '--devices', 'cam-1', '--selector', 'x'], /--all and --devices and --selector exclude/],
    [['--devices', 'cam-1,,cam-2'], /invalid value for --devices: 'cam-1,,cam-2' \(a comma-separated list/],
    [['--devices', ''], /--devices/],
    [['--devices', 'cam-1,has space'], /invalid device id 'has space' in --devices/],
    [['--selector', 'site in (a'], /^error: invalid --selector 'site in \(a': unbalanced "\("\n$/],
    [['--selector', 'site)'], /invalid --selector 'site\)': unbalanced "\)"/],
    [['--selector', ''], /invalid --selector '': empty selector/],
    [['--selector', 'site=berlin,'], /empty requirement \(stray comma\?\)/],
    [['--selector', 'site is berlin'], /cannot read "site is berlin": use key=value/],
    [['--selector', 'site=b@d'], /bad value "b@d"/],
  ])('%j: exit 2, nothing sent', async (flags, message) => {
    const result = await run([...CREATE, ...flags], { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
    expect(result.calls).toEqual([]);
  });
});

describe('rollout create: flags', () => {
  it('sends every flag, converted, and nothing else', async () => {
    const input = await sent(
      '--all',
      '--waves',
      '1,10,100',
      '--advance',
      'manual',
      '--soak',
      '10m',
      '--success-threshold',
      '95%',
      '--max-in-flight',
      '50',
      '--max-per-minute',
      '600',
      '--ramp',
      '10,2,50',
      '--failure-threshold',
      '10',
      '--min-sample',
      '20',
      '--on-failure',
      'abort',
      '--count-timeouts',
      '--ack-timeout',
      '30s',
      '--max-attempts',
      '3',
      '--retry-base',
      '1s',
      '--retry-max',
      '30s',
      '--snapshot',
      '--supersede',
    );
    expect(input).toEqual({
      patchId: 'pat_abc123',
      target: { kind: 'all' },
      waves: [1, 10, 100],
      advance: 'manual',
      soakMs: 600_000,
      successThreshold: 0.95,
      maxInFlight: 50,
      maxPerMinute: 600,
      ramp: { startPerMinute: 10, factor: 2, everySuccesses: 50 },
      failureThreshold: 0.1,
      minSample: 20,
      onFailure: 'abort',
      countTimeouts: true,
      ackTimeoutMs: 30_000,
      maxAttempts: 3,
      retryBackoff: { baseMs: 1_000, maxMs: 30_000 },
      snapshot: true,
      supersede: true,
    });
  });

  it.each([
    [['--waves', '100'], { waves: [100] }],
    [['--waves', '1%, 10%,100%'], { waves: [1, 10, 100] }],
    [['--waves', '0.5,5,100'], { waves: [0.5, 5, 100] }],
    [['--advance', 'auto'], { advance: 'auto' }],
    [['--soak', '0'], { soakMs: 0 }],
    [['--soak', '1h'], { soakMs: 3_600_000 }],
    [['--success-threshold', '95'], { successThreshold: 0.95 }],
    [['--success-threshold', '99.5%'], { successThreshold: 0.995 }],
    [['--success-threshold', '100%'], { successThreshold: 1 }],
    [['--success-threshold', '0'], { successThreshold: 0 }],
    [['--max-in-flight', '1'], { maxInFlight: 1 }],
    [['--max-per-minute', '10000000'], { maxPerMinute: 10_000_000 }],
    [['--ramp', '1, 1.5, 10'], { ramp: { startPerMinute: 1, factor: 1.5, everySuccesses: 10 } }],
    [['--failure-threshold', '0.5%'], { failureThreshold: 0.005 }],
    [['--failure-threshold', '5%', '--on-failure', 'pause'], { failureThreshold: 0.05, onFailure: 'pause' }],
    [['--failure-threshold', '5%', '--count-timeouts'], { failureThreshold: 0.05, countTimeouts: true }],
    [['--failure-threshold', '5%', '--min-sample', '1'], { failureThreshold: 0.05, minSample: 1 }],
    [['--snapshot'], { snapshot: true }],
    [['--supersede'], { supersede: true }],
  ])('%j', async (flags, expected) => {
    expect(await sent('--all', ...flags)).toEqual({
      patchId: 'pat_abc123',
      target: { kind: 'all' },
      ...expected,
    });
  });

  it.each([
    [['--waves', '10,5,100'], /invalid --waves '10,5,100': waves must increase/],
    [['--waves', '1,10,10,100'], /waves must increase/],
    [['--waves', '1,50'], /the last wave must be 100/],
    [['--waves', '0,100'], /invalid --waves '0,100': wave 1 \(0\): Too small/],
    [['--waves', '50,150'], /wave 2 \(150\): Too big/],
    [['--waves', '1,x,100'], /invalid value for --waves: 'x' is not a number/],
    [['--waves', '-1,100'], /invalid value for --waves: '-1' is not a number/],
    [['--waves', '1,,100'], /without empty items/],
    [['--waves', ''], /--waves/],
    [['--waves', Array.from({ length: 21 }, (_, i) => (i + 1) * 4 + 16).join(',')], /--waves/],
    [
      ['--advance', 'sometimes'],
      /'--advance <mode>' argument 'sometimes' is invalid. Allowed choices are auto, manual/,
    ],
    [['--soak', 'forever'], /invalid duration for --soak: 'forever'/],
    [['--soak', '31d'], /invalid duration for --soak/],
    [['--soak', '800h'], /invalid rollout: soakMs/],
    [
      ['--success-threshold', '101'],
      /invalid value for --success-threshold: '101' \(a percentage from 0 to 100/,
    ],
    [['--success-threshold=-5'], /invalid value for --success-threshold: '-5'/],
    [['--success-threshold', 'most'], /invalid value for --success-threshold/],
    [['--success-threshold', '95%%'], /invalid value for --success-threshold/],
    [['--success-threshold', '0.95'], /ambiguous value for --success-threshold: '0.95' .*write 0.95%/],
    [['--failure-threshold', '200%'], /invalid value for --failure-threshold: '200%'/],
    [['--failure-threshold', '0.1'], /ambiguous value for --failure-threshold/],
    [['--max-in-flight', '0'], /invalid value for --max-in-flight: '0' \(a whole number from 1 to 1000000\)/],
    [['--max-in-flight', '2.5'], /--max-in-flight/],
    [['--max-per-minute', 'lots'], /invalid value for --max-per-minute/],
    [['--max-per-minute', '10000001'], /--max-per-minute/],
    [['--ramp', '10,2'], /invalid value for --ramp: '10,2' \(START,FACTOR,EVERY/],
    [['--ramp', '10,2,50,1'], /START,FACTOR,EVERY/],
    [['--ramp', '0,2,50'], /invalid --ramp '0,2,50': START: Too small/],
    [['--ramp', '10,0.5,50'], /invalid --ramp '10,0.5,50': FACTOR: Too small/],
    [['--ramp', '10,2,1.5'], /EVERY: Invalid input/],
    [['--ramp', '10,x,50'], /invalid value for --ramp: 'x' is not a number/],
    [['--failure-threshold', '5%', '--min-sample', '0'], /invalid value for --min-sample/],
    [
      ['--failure-threshold', '5%', '--on-failure', 'explode'],
      /'--on-failure <action>' argument 'explode' is invalid. Allowed choices are pause, abort/,
    ],
    [['--on-failure', 'abort'], /--on-failure only apply with --failure-threshold/],
    [['--min-sample', '5'], /--min-sample only apply with --failure-threshold/],
    [['--count-timeouts'], /--count-timeouts only apply with --failure-threshold/],
    [
      ['--on-failure', 'abort', '--min-sample', '5', '--count-timeouts'],
      /--on-failure, --min-sample, --count-timeouts only apply/,
    ],
    [['--snapshot', 'yes'], /too many arguments|unknown/],
  ])('%j: exit 2, nothing sent', async (flags, message) => {
    const result = await run([...CREATE, '--all', ...flags], { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
    expect(result.calls).toEqual([]);
  });

  it('documents the targets, percentages and selectors in its help', async () => {
    const help = await run([...CREATE, '--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--all',
      '--devices <ids>',
      '--selector <expr>',
      '--waves <percents>',
      '--advance <mode>',
      '--soak <duration>',
      '--success-threshold <percent>',
      '--max-in-flight <n>',
      '--max-per-minute <n>',
      '--ramp <start,factor,every>',
      '--failure-threshold <percent>',
      '--min-sample <n>',
      '--on-failure <action>',
      '--count-timeouts',
      '--ack-timeout <duration>',
      '--max-attempts <n>',
      '--retry-base <duration>',
      '--retry-max <duration>',
      '--snapshot',
      '--supersede',
    ]) {
      expect(help.stdout).toContain(`  ${flag} `);
    }
    expect(help.stdout).toMatch(/Choose exactly one target/);
    expect(help.stdout).toMatch(/95% or 95/);
  });
});

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

describe('rollout status', () => {
  const waved = wavedFixture(
    [1, 10, 100],
    [{ succeeded: 1 }, { succeeded: 7, failed: 1, verifying: 1, queued: 1 }],
    {
      target: { kind: 'selector', selector: 'site=berlin' },
      successThreshold: 0.95,
      soakMs: 600_000,
      maxInFlight: 50,
      maxPerMinute: 600,
      ramp: { startPerMinute: 10, factor: 2, everySuccesses: 50 },
      failureThreshold: 0.1,
      minSample: 20,
      onFailure: 'abort',
      countTimeouts: true,
      snapshot: true,
      supersede: true,
      gate: { kind: 'success', wave: 1, needed: 0.95, reached: 0.8 },
    },
  );

  async function status(value: RolloutStatus, ...flags: string[]) {
    return run(['rollout', 'status', ID, ...flags], { routes: { 'rollout.get': () => value } });
  }

  it('shows target, waves, gate, limits and health', async () => {
    const { stdout, code } = await status(waved);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Status\s+active\n/);
    expect(stdout).toMatch(
      /Target\s+devices matching 'site=berlin' \(snapshot: devices that match later do not join\)/,
    );
    expect(stdout).toMatch(/Wave\s+2\/3 open: 1% → 10% → 100%; advance auto at 95% success, then soak 10m\n/);
    expect(stdout).toMatch(/Gate\s+waiting for wave 2 to reach 95% success \(80% now\)\n/);
    expect(stdout).toMatch(
      /Limits\s+max 50 in flight, max 600\/min, ramp from 10\/min, x2 every 50 successes\n/,
    );
    expect(stdout).toMatch(/Health\s+abort at 10% failed, once 20 finished \(timeouts count as failures\)\n/);
    expect(stdout).toMatch(/Policy\s+.*, supersedes older rollouts\n/);
    expect(stdout).toMatch(/Progress\s+9\/11 finished \(81%\), 2 in progress\n/);
  });

  it('has a table of the waves, verifying counted as in progress', async () => {
    const { stdout } = await status(waved);
    const lines = stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('WAVE'));
    expect(lines[head]).toMatch(
      /^WAVE\s+PERCENT\s+STATE\s+TARGETED\s+SUCCEEDED\s+FAILED\s+CANCELED\s+IN PROGRESS$/,
    );
    expect(lines[head + 1]).toMatch(/^\s*1\s+1%\s+opened\s+1\s+1\s+0\s+0\s+0$/);
    expect(lines[head + 2]).toMatch(/^\s*2\s+10%\s+current\s+10\s+7\s+1\s+0\s+2$/);
    expect(lines[head + 3]).toMatch(/^\s*3\s+100%\s+waiting\s+0\s+0\s+0\s+0\s+0$/);
    expect(stdout).toMatch(/\nverifying\s+1\n/);
  });

  it('shows who paused it and why', async () => {
    const paused = {
      ...waved,
      status: 'paused' as const,
      reason: 'maintenance window',
      statusBy: 'bob',
      statusAt: NOW - 30_000,
      gate: { kind: 'paused' as const, reason: 'maintenance window' },
    };
    const { stdout } = await status(paused);
    expect(stdout).toMatch(
      /Status\s+paused since 2025-03-01 11:59:30Z \(30s ago\), by bob: maintenance window\n/,
    );
    expect(stdout).toMatch(/Gate\s+paused: maintenance window\n/);
  });

  it.each([
    [{ kind: 'operator', wave: 1 }, `waiting for an operator to open wave 2: fleet rollout advance ${ID}`],
    [{ kind: 'soak', wave: 0, until: NOW + 30 * 60_000 }, 'soaking until 12:30:00Z (in 30m)'],
    [{ kind: 'soak', wave: 0, until: NOW + 36 * 3_600_000 }, 'soaking until 2025-03-03 00:00:00Z (in 36h)'],
    [
      { kind: 'success', wave: 0, needed: 1, reached: 0.5 },
      'waiting for wave 1 to reach 100% success (50% now)',
    ],
    [{ kind: 'paused', reason: '' }, 'paused'],
  ] as const)('gate %j', async (gate, text) => {
    const { stdout } = await status(wavedFixture([10, 100], [{ succeeded: 1 }], { gate }));
    expect(stdout).toContain(`Gate       ${text}\n`);
  });

  it('leaves the gate out when nothing holds the rollout back, and says when there are no limits', async () => {
    const { stdout } = await status(rolloutFixture({ queued: 1 }));
    expect(stdout).not.toMatch(/Gate/);
    expect(stdout).toMatch(/Wave\s+1\/1: 100%\n/);
    expect(stdout).toMatch(/Target\s+all devices\n/);
    expect(stdout).toMatch(/Limits\s+none\n/);
    expect(stdout).toMatch(/Health\s+no failure threshold\n/);
  });

  it('shows manual advance, and the devices of a device list', async () => {
    const ids = ['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-5', 'cam-6', 'cam-7'];
    const { stdout } = await status(
      wavedFixture([50, 100], [{ succeeded: 3 }], {
        advance: 'manual',
        target: { kind: 'devices', deviceIds: ids },
      }),
    );
    expect(stdout).toMatch(/Target\s+7 devices: cam-1, cam-2, cam-3, cam-4, cam-5 \(\+2 more\)\n/);
    expect(stdout).toMatch(
      /Wave\s+1\/2 open: 50% → 100%; advance manual \(fleet rollout advance ro_xyz789\)\n/,
    );
  });

  it('--json prints the RolloutStatus unchanged', async () => {
    const result = await status(waved, '--json');
    expect(JSON.parse(result.stdout)).toEqual(waved);
  });
});

describe('rollout list', () => {
  it('has status and wave columns', async () => {
    const rollouts = [
      wavedFixture([1, 10, 100], [{ succeeded: 1 }, { queued: 9 }], { id: 'ro_a' }),
      rolloutFixture({ succeeded: 2, failed: 1 }, { id: 'ro_b', status: 'aborted' }),
      rolloutFixture({ queued: 5 }, { id: 'ro_c', status: 'paused' }),
    ];
    const result = await run(['rollout', 'list'], { routes: { 'rollout.list': () => rollouts } });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ID\s+PATCH\s+STATUS\s+WAVE\s+TARGETED\s+SUCCEEDED\s+FAILED\s+CANCELED\s+IN PROGRESS\s+CREATED$/,
    );
    expect(lines[1]).toMatch(
      /^ro_a\s+pat_abc123 \(cam-firmware 1\.4\.2\)\s+active\s+2\/3\s+10\s+1\s+0\s+0\s+9\s/,
    );
    expect(lines[2]).toMatch(/^ro_b\s+.*\s+aborted\s+1\/1\s+3\s+2\s+1\s+0\s+0\s/);
    expect(lines[3]).toMatch(/^ro_c\s+.*\s+paused\s+1\/1\s+5\s/);
  });
});
