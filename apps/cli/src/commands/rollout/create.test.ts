import { describe, expect, it } from 'vitest';
import { rolloutFixture, run } from '../../test-helpers.js';

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

  it('waits until the pods attached the rollout in every bucket, then says how many it targets', async () => {
    const attaching = (buckets: number) =>
      rolloutFixture({ queued: buckets }, { attach: { buckets, of: 64 } });
    const answers = [attaching(40), rolloutFixture({ queued: 64 })];
    const result = await run([...CREATE, '--all'], {
      routes: { 'rollout.create': () => attaching(0), 'rollout.get': () => answers.shift() },
    });
    expect(result.code).toBe(0);
    expect(result.calls.map((call) => call.path)).toEqual(['rollout.create', 'rollout.get', 'rollout.get']);
    expect(result.stderr).toMatch(/created: 64 targeted/);
  });

  it('--no-wait: returns once recorded, saying the attach goes on', async () => {
    const recorded = rolloutFixture({}, { attach: { buckets: 0, of: 64 } });
    const result = await run([...CREATE, '--all', '--no-wait'], {
      routes: { 'rollout.create': () => recorded },
    });
    expect(result.calls).toHaveLength(1);
    expect(result.stdout).toBe(`${ID}\n`);
    expect(result.stderr).toMatch(/created; the pods attach it in the background \(0\/64 buckets so far\)/);
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

describe('rollout create: schedule', () => {
  it('sends --start-at and --end-by (RFC 3339, any zone) as epoch ms, and --at-end', async () => {
    expect(
      await sent(
        '--all',
        '--start-at',
        '2026-12-24T02:00:00+01:00',
        '--end-by',
        '2026-12-24T05:30:00.5Z',
        '--at-end',
        'finish',
      ),
    ).toEqual({
      patchId: 'pat_abc123',
      target: { kind: 'all' },
      startAt: Date.UTC(2026, 11, 24, 1, 0, 0),
      endBy: Date.UTC(2026, 11, 24, 5, 30, 0, 500),
      atEnd: 'finish',
    });
  });
});

describe('rollout create: maintenance windows', () => {
  it('sends --window (repeatable, day ranges, daily, seconds) and --window-zone', async () => {
    expect(
      await sent(
        '--all',
        '--window',
        'Mon-Fri 01:00-04:00',
        '--window',
        'Sat,Sun 22:00-2:00',
        '--window',
        'daily 03:00:30-03:10',
        '--window',
        'fri-mon 12:00-13:00',
        '--window-zone',
        'Europe/Berlin',
        '--download-ahead',
      ),
    ).toEqual({
      patchId: 'pat_abc123',
      target: { kind: 'all' },
      windows: [
        { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '01:00', end: '04:00' },
        { days: ['Sat', 'Sun'], start: '22:00', end: '02:00' },
        { days: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'], start: '03:00:30', end: '03:10' },
        { days: ['Fri', 'Sat', 'Sun', 'Mon'], start: '12:00', end: '13:00' },
      ],
      windowZone: 'Europe/Berlin',
      downloadAhead: true,
    });
  });

  it.each([
    [['--window', 'weekdays 01:00-04:00'], /'weekdays' is not a weekday/],
    [['--window', 'Mon 1am-4am'], /invalid --window 'Mon 1am-4am': write DAYS HH:MM-HH:MM/],
    [['--window', 'Mon 25:00-04:00'], /a time of day looks like/],
    [['--window', 'Mon 04:00-04:00'], /start and end differ/],
    [['--window-zone', 'Europe/Berlin'], /--window-zone only applies with --window/],
    [['--download-ahead'], /--download-ahead only applies with --window/],
    [['--window', 'Mon 01:00-04:00', '--window-zone', 'Mars/Olympus'], /an IANA time zone/],
  ])('%j: exit 2, nothing sent', async (flags, message) => {
    const result = await run([...CREATE, '--all', ...flags], { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
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
    [['--start-at', '2026-12-24 01:00'], /invalid time for --start-at: '2026-12-24 01:00' \(RFC 3339/],
    [['--end-by', '2026-12-24T01:00:00'], /invalid time for --end-by: .* \(RFC 3339 with a zone/],
    [['--end-by', 'tomorrow'], /invalid time for --end-by/],
    [['--at-end', 'finish'], /--at-end only applies with --end-by/],
    [['--end-by', '2026-12-24T01:00:00Z', '--at-end', 'stop'], /Allowed choices are cancel, finish/],
    [
      ['--start-at', '2026-12-24T05:00:00Z', '--end-by', '2026-12-24T01:00:00Z'],
      /endBy must come after startAt/,
    ],
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
