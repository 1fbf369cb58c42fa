import type { FleetClient } from '@camfleet/client';
import {
  CreateRolloutInput,
  DeviceId,
  type MaintenanceWindow,
  Ramp,
  type RolloutStatus,
  type RolloutTarget,
  retryBackoffOf,
  TimeZone,
  Waves,
  windowFromText,
} from '@camfleet/contracts';
import { planLines } from '@camfleet/present';
import { type Command, Option } from 'commander';
import { terminalBar } from '../../bar.js';
import { UsageError } from '../../errors.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { formatWhen } from '../../time.js';
import {
  check,
  durationOption,
  intOption,
  listNumber,
  listOption,
  percentOption,
  selectorOption,
  timeOption,
} from '../../validate.js';
import { patchLabel, targetText } from './present.js';

export interface CreateOptions {
  patch: string;
  all?: boolean;
  /** One entry per `--devices` given (each a comma-separated list). */
  devices?: string[];
  selector?: string;
  waves?: string;
  /** commander only lets the choices through. */
  advance?: 'auto' | 'manual';
  soak?: string;
  successThreshold?: string;
  maxInFlight?: string;
  maxPerMinute?: string;
  ramp?: string;
  failureThreshold?: string;
  minSample?: string;
  onFailure?: 'pause' | 'abort';
  countTimeouts?: boolean;
  ackTimeout?: string;
  maxAttempts?: string;
  retryBase?: string;
  retryMax?: string;
  snapshot?: boolean;
  supersede?: boolean;
  startAt?: string;
  endBy?: string;
  /** commander only lets the choices through. */
  atEnd?: 'cancel' | 'finish';
  /** One entry per `--window` given. */
  window?: string[];
  windowZone?: string;
  downloadAhead?: boolean;
  /** `--no-wait`: false. */
  wait?: boolean;
  dryRun?: boolean;
}

export type CreateRolloutRequest = Parameters<FleetClient['rollout']['create']['mutate']>[0];

/** How often `rollout create` looks at a new rollout's attach. */
const ATTACH_POLL_MS = 200;

/**
 * The rollout once the pods attached it in every bucket: `create` returns as soon as it is
 * recorded, at any fleet size. Shown as a bar on a terminal's stderr.
 */
async function untilAttached(
  s: Session,
  client: FleetClient,
  created: RolloutStatus,
): Promise<RolloutStatus> {
  let status = created;
  if (status.attach === null) return status;
  const shown = !s.json && s.io.stderr.isTTY === true;
  const bar = shown
    ? terminalBar(s.io.stderr, `attaching ${s.ce.cyan('{bar}')} {value}/{total} buckets`)
    : null;
  bar?.start(status.attach.of, status.attach.buckets);
  try {
    while (status.attach !== null) {
      await new Promise((resolve) => setTimeout(resolve, ATTACH_POLL_MS));
      status = await client.rollout.get.query({ rolloutId: status.id });
      if (status.attach) bar?.setTotal(status.attach.of);
      bar?.update(status.attach?.buckets ?? bar.getTotal());
    }
  } finally {
    bar?.stop();
  }
  return status;
}

const TARGET_HINT = '--all, --devices <ids> or --selector <expr>';

/** Exactly one of --all, --devices, --selector, checked (device ids, selector syntax) before sending. */
export function targetOf(options: Pick<CreateOptions, 'all' | 'devices' | 'selector'>): RolloutTarget {
  const given = [
    options.all === true ? '--all' : null,
    options.devices !== undefined ? '--devices' : null,
    options.selector !== undefined ? '--selector' : null,
  ].filter((flag) => flag !== null);
  if (given.length === 0) throw new UsageError(`choose the target devices: ${TARGET_HINT}`);
  if (given.length > 1) {
    throw new UsageError(`${given.join(' and ')} exclude each other: choose one of ${TARGET_HINT}`);
  }
  if (options.selector !== undefined) {
    selectorOption(options.selector);
    return { kind: 'selector', selector: options.selector };
  }
  if (options.devices !== undefined) {
    const deviceIds = [...new Set(options.devices.flatMap((list) => listOption('--devices', list)))];
    for (const id of deviceIds) check(`device id '${id}' in --devices`, DeviceId, id);
    return { kind: 'devices', deviceIds };
  }
  return { kind: 'all' };
}

/** `--waves 1,10,100` (a `%` after each is fine): cumulative percentages, increasing, ending at 100. */
export function wavesOption(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const waves = listOption('--waves', text).map((item) => listNumber('--waves', item, true));
  check(`--waves '${text}'`, Waves, waves, (path) =>
    typeof path[0] === 'number' ? `wave ${path[0] + 1} (${waves[path[0]]})` : null,
  );
  return waves;
}

/** `--ramp START,FACTOR,EVERY`: start at START offers a minute, multiply by FACTOR every EVERY successes. */
export function rampOption(text: string | undefined): CreateRolloutInput['ramp'] | undefined {
  if (text === undefined) return undefined;
  const items = listOption('--ramp', text);
  if (items.length !== 3) {
    throw new UsageError(
      `invalid value for --ramp: '${text}' (START,FACTOR,EVERY: offers a minute to start with, the factor to multiply by, every so many successes; e.g. 10,2,50)`,
    );
  }
  const [startPerMinute, factor, everySuccesses] = items.map((item) => listNumber('--ramp', item)) as [
    number,
    number,
    number,
  ];
  const ramp = { startPerMinute, factor, everySuccesses };
  const names: Record<string, string> = {
    startPerMinute: 'START',
    factor: 'FACTOR',
    everySuccesses: 'EVERY',
  };
  check(`--ramp '${text}'`, Ramp, ramp, (path) => names[String(path[0])] ?? null);
  return ramp;
}

/** `--window 'Mon-Fri 01:00-04:00'` (repeatable): recurring maintenance windows in device-local time. */
export function windowsOption(texts: readonly string[] | undefined): MaintenanceWindow[] | undefined {
  if (texts === undefined) return undefined;
  return texts.map((text) => {
    const read = windowFromText(text);
    if ('problem' in read) throw new UsageError(`invalid --window '${text}': ${read.problem}`);
    return read.window;
  });
}

/** `{ key: value }` if the value is defined, `{}` otherwise: flags not given are not sent. */
function given<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Validates the flags of `rollout create` into the input sent to the server. Flags left out
 * are left out of the request too, so the server's defaults apply.
 */
export function createRolloutInput(options: CreateOptions): CreateRolloutRequest {
  const target = targetOf(options);
  const ackTimeoutMs = durationOption('--ack-timeout', options.ackTimeout);
  const maxAttempts = intOption('--max-attempts', options.maxAttempts, 1, 100);
  const baseMs = durationOption('--retry-base', options.retryBase);
  const maxMs = durationOption('--retry-max', options.retryMax);
  const waves = wavesOption(options.waves);
  const soakMs = durationOption('--soak', options.soak);
  const successThreshold = percentOption('--success-threshold', options.successThreshold);
  const maxInFlight = intOption('--max-in-flight', options.maxInFlight, 1, 1_000_000);
  const maxPerMinute = intOption('--max-per-minute', options.maxPerMinute, 1, 10_000_000);
  const ramp = rampOption(options.ramp);
  const failureThreshold = percentOption('--failure-threshold', options.failureThreshold);
  const minSample = intOption('--min-sample', options.minSample, 1, 1_000_000);
  const startAt = timeOption('--start-at', options.startAt);
  const endBy = timeOption('--end-by', options.endBy);
  if (options.atEnd !== undefined && endBy === undefined)
    throw new UsageError('--at-end only applies with --end-by (without an end, nothing happens at one)');
  const windows = windowsOption(options.window);
  if (options.downloadAhead === true && windows === undefined)
    throw new UsageError('--download-ahead only applies with --window');
  if (options.windowZone !== undefined) {
    if (windows === undefined) throw new UsageError('--window-zone only applies with --window');
    check('--window-zone', TimeZone, options.windowZone);
  }
  // Without a failure threshold nothing ever trips: these would be silently ignored.
  if (failureThreshold === undefined) {
    const orphans = [
      options.onFailure !== undefined ? '--on-failure' : null,
      minSample !== undefined ? '--min-sample' : null,
      options.countTimeouts === true ? '--count-timeouts' : null,
    ].filter((flag) => flag !== null);
    if (orphans.length > 0) {
      throw new UsageError(
        `${orphans.join(', ')} only apply with --failure-threshold (without one, failures never pause or abort the rollout)`,
      );
    }
  }
  const input: CreateRolloutRequest = {
    patchId: options.patch,
    target,
    ...given('ackTimeoutMs', ackTimeoutMs),
    ...given('maxAttempts', maxAttempts),
    ...given('retryBackoff', retryBackoffOf(baseMs, maxMs)),
    ...given('waves', waves),
    ...given('advance', options.advance),
    ...given('soakMs', soakMs),
    ...given('successThreshold', successThreshold),
    ...given('maxInFlight', maxInFlight),
    ...given('maxPerMinute', maxPerMinute),
    ...given('ramp', ramp),
    ...given('failureThreshold', failureThreshold),
    ...given('minSample', minSample),
    ...given('onFailure', options.onFailure),
    ...(options.countTimeouts === true ? { countTimeouts: true } : {}),
    ...(options.snapshot === true ? { snapshot: true } : {}),
    ...(options.supersede === true ? { supersede: true } : {}),
    ...given('startAt', startAt),
    ...given('endBy', endBy),
    ...given('atEnd', options.atEnd),
    ...given('windows', windows),
    ...given('windowZone', options.windowZone),
    ...(options.downloadAhead === true ? { downloadAhead: true } : {}),
  };
  check('rollout', CreateRolloutInput, input);
  return input;
}

/** `--dry-run`: the server's preview of the target, and the plan in words; nothing is created. */
async function dryRun(s: Session, input: CreateRolloutRequest): Promise<void> {
  const settings = CreateRolloutInput.parse(input);
  const preview = await s.withClient((client) => client.rollout.preview.query({ target: settings.target }));
  const plan = planLines(settings, preview, { at: (ms) => formatWhen(ms, s.now()) });
  s.output({ dryRun: true, input: settings, preview, plan }, () => {
    const sample = preview.sample.map(
      (d) => `  ${d.id}  ${d.model} ${d.firmwareVersion}${d.online ? '' : ' (offline)'}`,
    );
    const unknown =
      preview.unknown !== null && preview.unknown.count > 0
        ? [
            `no such device: ${preview.unknown.ids.join(', ')}${preview.unknown.count > preview.unknown.ids.length ? ' …' : ''} (${preview.unknown.count})`,
          ]
        : [];
    return [
      ...plan,
      ...unknown,
      ...(sample.length > 0 ? ['for example:', ...sample] : []),
      'dry run: nothing created',
    ].join('\n');
  });
}

export function registerCreateCommand(rollout: Command, io: FleetIO): void {
  rollout
    .command('create')
    .description('roll a patch out; prints the rollout id')
    .requiredOption('--patch <id>', 'patch id (pat_…)')
    .option('--all', 'target every device')
    .option(
      '--devices <ids>',
      'target these devices (comma-separated ids; may be repeated)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--selector <expr>', "target devices whose labels match, e.g. 'site=berlin,tier!=prod'")
    .option('--waves <percents>', 'cumulative waves ending at 100, e.g. 1,10,100 (server default: one wave)')
    .addOption(
      new Option(
        '--advance <mode>',
        'open the next wave by itself or on `rollout advance` (server default auto)',
      ).choices(['auto', 'manual']),
    )
    .option(
      '--soak <duration>',
      'wait this long after a wave succeeded before the next opens (server default 0)',
    )
    .option(
      '--success-threshold <percent>',
      'share of a wave that must succeed before the next opens (server default 100%)',
    )
    .option(
      '--max-in-flight <n>',
      'at most this many deliveries in progress at once (server default: no limit)',
    )
    .option('--max-per-minute <n>', 'at most this many offers a minute (server default: no limit)')
    .option(
      '--ramp <start,factor,every>',
      'offers a minute: start at START, multiply by FACTOR every EVERY successes',
    )
    .option(
      '--failure-threshold <percent>',
      'pause or abort once this share of finished deliveries failed (server default: never)',
    )
    .option(
      '--min-sample <n>',
      'finished deliveries needed before the failure threshold applies (server default 10)',
    )
    .addOption(
      new Option('--on-failure <action>', 'what the failure threshold does (server default pause)').choices([
        'pause',
        'abort',
      ]),
    )
    .option('--count-timeouts', 'count timed-out attempts as failures for the threshold')
    .option('--ack-timeout <duration>', 'a device must report within this long (server default 60s)')
    .option('--max-attempts <n>', 'attempts per device before it counts as failed (server default 5)')
    .option('--retry-base <duration>', 'first retry backoff (server default 2s)')
    .option('--retry-max <duration>', 'longest retry backoff (server default 60s)')
    .option('--snapshot', 'only the devices targeted now; devices that match later do not join')
    .option('--supersede', 'cancel queued deliveries of older rollouts for the targeted devices')
    .option('--start-at <time>', 'offer nothing before this moment (RFC 3339, e.g. 2026-12-24T01:00:00Z)')
    .option('--end-by <time>', 'end the rollout at this moment (RFC 3339); --at-end says how')
    .addOption(
      new Option(
        '--at-end <what>',
        'at --end-by: cancel what is open, or finish: start nothing new, let what is in flight complete (default cancel)',
      ).choices(['cancel', 'finish']),
    )
    .option(
      '--window <days times>',
      "offer installs only inside this window of each device's local time, e.g. 'Mon-Fri 01:00-04:00' (repeatable)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '--window-zone <zone>',
      'the time zone of devices without a tz label (IANA, e.g. Europe/Berlin; default UTC)',
    )
    .option('--download-ahead', 'with --window: offer at once, so cameras download before their window opens')
    .option('--no-wait', 'return once the rollout is recorded, without waiting for the pods to attach it')
    .option(
      '--dry-run',
      'create nothing: print what the rollout would do and which devices its target names now',
    )
    .addHelpText(
      'after',
      `
Choose exactly one target: --all, --devices or --selector.
Percentages: 95% or 95 (a bare 0.95 is refused as ambiguous). Durations: 500ms, 60s, 10m, 1h.
Selectors: key=value, key!=value, key in (a,b), key notin (a,b), key, !key; comma means "and".

Examples:
  fleet rollout create --patch pat_x --all
  fleet rollout create --patch pat_x --selector 'site=berlin' --waves 1,10,100 --dry-run
  fleet rollout create --patch pat_x --selector 'site=berlin' --waves 1,10,100 \\
    --success-threshold 95% --soak 10m --failure-threshold 5% --on-failure abort
  ROLLOUT=$(fleet rollout create --patch "$PATCH" --devices cam-0001,cam-0002)
  fleet rollout create --patch pat_x --all --start-at 2026-12-24T01:00:00+01:00 \
    --end-by 2026-12-24T05:00:00+01:00 --at-end finish
  fleet rollout create --patch pat_x --all --window 'Mon-Fri 01:00-04:00' --window-zone Europe/Berlin
    (each device's own zone comes from its tz label, e.g. --labels tz=America/New_York)`,
    )
    .action(async (options: CreateOptions, command: Command) => {
      const s = Session.of(io, command);
      const input = createRolloutInput(options);
      if (options.dryRun === true) return dryRun(s, input);
      const created = await s.withClient(async (client) => {
        const recorded = await client.rollout.create.mutate(input);
        return options.wait === false ? recorded : untilAttached(s, client, recorded);
      });
      s.output(created, () => created.id);
      const waves =
        created.waves.length > 1 ? ` in waves ${created.waves.map((w) => `${w}%`).join(', ')}` : '';
      const what = `rollout of ${patchLabel(created.patchId, created.patch)} to ${targetText(created.target)}${waves}`;
      s.note(
        created.attach === null
          ? `${what} created: ${created.targeted} targeted`
          : `${what} created; the pods attach it in the background (${created.attach.buckets}/${created.attach.of} buckets so far)`,
      );
    });
}
