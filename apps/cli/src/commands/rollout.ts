import type { FleetClient } from '@camfleet/client';
import {
  CreateRolloutInput,
  DELIVERY_STATES,
  DeviceId,
  Ramp,
  RolloutActionInput,
  type RolloutStatus,
  type RolloutTarget,
  Waves,
} from '@camfleet/contracts';
import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import {
  colorRolloutStatus,
  colorState,
  formatDuration,
  formatPercent,
  formatWhen,
  gateText,
  keyValues,
  openOf,
  patchLabel,
  progressOf,
  statusCause,
  statusLine,
  totalOf,
  waveLabel,
} from '../format.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { WATCH_INTERVAL, watchIntervalOf, watchList } from '../list-watch.js';
import { Session } from '../session.js';
import {
  check,
  durationOption,
  intOption,
  listNumber,
  listOption,
  percentOption,
  rolloutIdArg,
  selectorOption,
} from '../validate.js';
import { registerWatchCommand } from './watch.js';

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
}

export type CreateRolloutRequest = Parameters<FleetClient['rollout']['create']['mutate']>[0];

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
    ...(baseMs !== undefined || maxMs !== undefined
      ? {
          retryBackoff: {
            baseMs: baseMs ?? Math.min(2_000, maxMs ?? 2_000),
            maxMs: maxMs ?? Math.max(60_000, baseMs ?? 0),
          },
        }
      : {}),
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
  };
  check('rollout', CreateRolloutInput, input);
  return input;
}

/** `all devices`, `3 devices`, `devices matching 'site=berlin'`. */
export function targetText(target: RolloutTarget): string {
  switch (target.kind) {
    case 'all':
      return 'all devices';
    case 'devices':
      return target.deviceIds.length === 1 ? '1 device' : `${target.deviceIds.length} devices`;
    case 'selector':
      return `devices matching '${target.selector}'`;
  }
}

function targetDetail(status: RolloutStatus): string {
  const { target } = status;
  let text = targetText(target);
  if (target.kind === 'devices') {
    const shown = target.deviceIds.slice(0, 5).join(', ');
    const more = target.deviceIds.length - 5;
    text += `: ${shown}${more > 0 ? ` (+${more} more)` : ''}`;
  }
  return status.snapshot ? `${text} (snapshot: devices that match later do not join)` : text;
}

function wavesDetail(status: RolloutStatus): string {
  const plan = status.waves.map((p) => `${p}%`).join(' → ');
  if (status.waves.length <= 1) return `${waveLabel(status)}: ${plan}`;
  const advance =
    status.advance === 'manual'
      ? `advance manual (fleet rollout advance ${status.id})`
      : `advance auto at ${formatPercent(status.successThreshold)} success${
          status.soakMs > 0 ? `, then soak ${formatDuration(status.soakMs)}` : ''
        }`;
  return `${waveLabel(status)} open: ${plan}; ${advance}`;
}

function limitsDetail(status: RolloutStatus, s: Session): string {
  const parts: string[] = [];
  if (status.maxInFlight !== null) parts.push(`max ${status.maxInFlight} in flight`);
  if (status.maxPerMinute !== null) parts.push(`max ${status.maxPerMinute}/min`);
  if (status.ramp !== null) {
    const { startPerMinute, factor, everySuccesses } = status.ramp;
    parts.push(`ramp from ${startPerMinute}/min, x${factor} every ${everySuccesses} successes`);
  }
  return parts.length > 0 ? parts.join(', ') : s.c.dim('none');
}

function healthDetail(status: RolloutStatus, s: Session): string {
  if (status.failureThreshold === null) return s.c.dim('no failure threshold');
  return `${status.onFailure} at ${formatPercent(status.failureThreshold)} failed, once ${
    status.minSample
  } finished${status.countTimeouts ? ' (timeouts count as failures)' : ''}`;
}

function statusDetail(status: RolloutStatus, s: Session): string {
  const since =
    status.statusAt !== null && status.status !== 'active'
      ? ` since ${formatWhen(status.statusAt, s.now())}`
      : '';
  const cause = statusCause(status);
  return `${colorRolloutStatus(status.status, s.c)}${since}${cause ? `, ${cause}` : ''}`;
}

/** The rollouts as `rollout list` shows them, fitted to the terminal. */
export function rolloutsTable(rollouts: readonly RolloutStatus[], s: Session): string {
  return s.table(
    [
      'ID',
      'PATCH',
      'STATUS',
      'WAVE',
      'TARGETED',
      'SUCCEEDED',
      'FAILED',
      'CANCELED',
      'IN PROGRESS',
      'CREATED',
    ],
    rollouts.map((r) => {
      const p = progressOf(r);
      return [
        r.id,
        patchLabel(r.patchId, r.patch),
        colorRolloutStatus(r.status, s.c),
        waveLabel(r),
        r.targeted,
        r.counts.succeeded,
        r.counts.failed,
        r.counts.canceled,
        p.open,
        formatWhen(r.createdAt, s.now()),
      ];
    }),
    ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  );
}

/** One row per wave: its counts, and whether it is open yet. */
export function wavesTable(status: RolloutStatus, s: Session): string {
  const zero = Object.fromEntries(DELIVERY_STATES.map((state) => [state, 0])) as RolloutStatus['counts'];
  return s.table(
    ['WAVE', 'PERCENT', 'STATE', 'TARGETED', 'SUCCEEDED', 'FAILED', 'CANCELED', 'IN PROGRESS'],
    status.waves.map((percent, i) => {
      const counts = status.waveCounts[i] ?? zero;
      const state = i < status.wave ? 'opened' : i === status.wave ? s.c.bold('current') : s.c.dim('waiting');
      return [
        i + 1,
        `${percent}%`,
        state,
        totalOf(counts),
        counts.succeeded,
        counts.failed,
        counts.canceled,
        openOf(counts),
      ];
    }),
    ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right'],
  );
}

export function rolloutDetail(status: RolloutStatus, s: Session): string {
  const { c } = s;
  const p = progressOf(status);
  const head = keyValues(
    [
      ['Rollout', c.bold(status.id)],
      ['Patch', patchLabel(status.patchId, status.patch)],
      ['Status', statusDetail(status, s)],
      ['Target', targetDetail(status)],
      ['Created', `${formatWhen(status.createdAt, s.now())} by ${status.createdBy}`],
      ['Wave', wavesDetail(status)],
      ...(status.gate !== null ? [['Gate', gateText(status.gate, status.id, s.now())] as const] : []),
      ['Limits', limitsDetail(status, s)],
      ['Health', healthDetail(status, s)],
      [
        'Policy',
        `ack timeout ${formatDuration(status.ackTimeoutMs)}, max ${status.maxAttempts} attempts, retry backoff ${formatDuration(
          status.retryBackoff.baseMs,
        )}..${formatDuration(status.retryBackoff.maxMs)}${status.supersede ? ', supersedes older rollouts' : ''}`,
      ],
      ['Progress', `${p.finished}/${p.targeted} finished (${p.percent}%), ${p.open} in progress`],
    ],
    c,
  );
  const counts = s.table(
    ['STATE', 'DEVICES'],
    DELIVERY_STATES.map((state) => [colorState(state, c), status.counts[state]]),
    ['left', 'right'],
  );
  return `${head}\n\n${wavesTable(status, s)}\n\n${counts}`;
}

type Action = 'pause' | 'resume' | 'advance' | 'cancel';

const ACTIONS: ReadonlyArray<{ name: Action; description: string; reason: boolean }> = [
  {
    name: 'pause',
    description: 'pause a rollout: no further offers go out until it is resumed',
    reason: true,
  },
  { name: 'resume', description: 'resume a paused rollout', reason: false },
  { name: 'advance', description: 'open the next wave now, whatever holds it back', reason: false },
  {
    name: 'cancel',
    description: 'cancel a rollout: queued deliveries are canceled, devices at work are asked to stop',
    reason: true,
  },
];

function perform(
  client: FleetClient,
  action: Action,
  input: { rolloutId: string; reason?: string },
): Promise<RolloutStatus> {
  switch (action) {
    case 'pause':
      return client.rollout.pause.mutate(input);
    case 'resume':
      return client.rollout.resume.mutate({ rolloutId: input.rolloutId });
    case 'advance':
      return client.rollout.advance.mutate({ rolloutId: input.rolloutId });
    case 'cancel':
      return client.rollout.cancel.mutate(input);
  }
}

export function registerRolloutCommands(program: Command, io: FleetIO): void {
  const rollout = program
    .command('rollout')
    .alias('rollouts')
    .description('create, follow, pause, resume, advance and cancel rollouts');
  withExamples(rollout, [
    'fleet rollout create --patch pat_x --all --waves 10,100',
    'fleet rollout list --watch',
    'fleet rollout watch ro_x',
    'fleet rollout pause ro_x --reason "maintenance window"',
  ]);

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
    .addHelpText(
      'after',
      `
Choose exactly one target: --all, --devices or --selector.
Percentages: 95% or 95 (a bare 0.95 is refused as ambiguous). Durations: 500ms, 60s, 10m, 1h.
Selectors: key=value, key!=value, key in (a,b), key notin (a,b), key, !key; comma means "and".

Examples:
  fleet rollout create --patch pat_x --all
  fleet rollout create --patch pat_x --selector 'site=berlin' --waves 1,10,100 \\
    --success-threshold 95% --soak 10m --failure-threshold 5% --on-failure abort
  ROLLOUT=$(fleet rollout create --patch "$PATCH" --devices cam-0001,cam-0002)`,
    )
    .action(async (options: CreateOptions, command: Command) => {
      const s = Session.of(io, command);
      const input = createRolloutInput(options);
      const created = await s.withClient((client) => client.rollout.create.mutate(input));
      s.output(created, () => created.id);
      const waves =
        created.waves.length > 1 ? ` in waves ${created.waves.map((w) => `${w}%`).join(', ')}` : '';
      s.note(
        `rollout of ${patchLabel(created.patchId, created.patch)} to ${targetText(created.target)}${waves} created: ${created.targeted} targeted`,
      );
    });

  const statusCommand = rollout
    .command('status')
    .alias('show')
    .description('show a rollout: status, target, waves, gate, limits and delivery counts')
    .argument('<id>', 'rollout id (ro_…)');
  withExamples(statusCommand, ['fleet rollout status ro_x', 'fleet rollout status ro_x --json | jq .counts']);
  statusCommand.action(async (id: string, _options: unknown, command: Command) => {
    const s = Session.of(io, command);
    const rolloutId = rolloutIdArg(id);
    const status = await s.withClient((client) => client.rollout.get.query({ rolloutId }));
    s.output(status, () => rolloutDetail(status, s));
  });

  withExamples(
    rollout
      .command('list')
      .alias('ls')
      .description('list rollouts, newest first; --watch to keep the list up to date')
      .option('--limit <n>', 'at most this many (1-500)', '50')
      .option('-w, --watch', 'keep watching: redraw on a terminal, a new table on each change when piped')
      .option('--interval <duration>', 'how often --watch refreshes', WATCH_INTERVAL)
      .action(async (options: { limit: string; watch?: boolean; interval: string }, command: Command) => {
        const s = Session.of(io, command);
        const limit = intOption('--limit', options.limit, 1, 500);
        if (options.watch === true) {
          const intervalMs = watchIntervalOf(options.interval);
          await s.withClient((client) =>
            watchList(s, {
              title: 'fleet rollout list',
              intervalMs,
              fetch: () => client.rollout.list.query({ limit }),
              render: (rollouts) =>
                rollouts.length === 0 ? s.c.dim('no rollouts yet') : rolloutsTable(rollouts, s),
            }),
          );
          return;
        }
        const rollouts = await s.withClient((client) => client.rollout.list.query({ limit }));
        s.output(rollouts, () => {
          if (rollouts.length === 0) {
            s.note('no rollouts yet');
            return null;
          }
          return rolloutsTable(rollouts, s);
        });
      }),
    [
      'fleet rollout list --limit 10',
      'fleet rollout list --watch',
      'fleet rollout list --json | jq -r \'.[] | select(.status == "active") | .id\'',
    ],
  );

  for (const action of ACTIONS) {
    const command = rollout
      .command(action.name)
      .description(action.description)
      .argument('<id>', 'rollout id (ro_…)');
    if (action.reason) command.option('--reason <text>', 'why (shown in status; at most 500 characters)');
    withExamples(
      command,
      action.reason
        ? [
            `fleet rollout ${action.name} ro_x --reason "${action.name === 'pause' ? 'maintenance window' : 'bad build'}"`,
          ]
        : [`fleet rollout ${action.name} ro_x`],
    );
    command.action(async (id: string, options: { reason?: string }, cmd: Command) => {
      const s = Session.of(io, cmd);
      const rolloutId = rolloutIdArg(id);
      const input = { rolloutId, ...(options.reason !== undefined ? { reason: options.reason } : {}) };
      check('--reason', RolloutActionInput, input, () => null);
      const status = await s.withClient((client) => perform(client, action.name, input));
      s.output(status, () => statusLine(status, s.c));
      if (status.gate !== null && status.gate.kind !== 'paused') {
        s.note(gateText(status.gate, status.id, s.now()));
      }
    });
  }

  registerWatchCommand(rollout, io);
}
