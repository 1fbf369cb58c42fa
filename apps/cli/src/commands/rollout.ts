import type { FleetClient } from '@camfleet/client';
import { CreateRolloutInput, type RolloutStatus } from '@camfleet/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import {
  colorRolloutStatus,
  colorState,
  formatDuration,
  formatWhen,
  keyValues,
  patchLabel,
  progressOf,
  statusSummary,
  table,
} from '../format.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { check, durationOption, intOption, rolloutIdArg } from '../validate.js';
import { registerWatchCommand } from './watch.js';

interface CreateOptions {
  patch: string;
  all?: boolean;
  ackTimeout?: string;
  maxAttempts?: string;
  retryBase?: string;
  retryMax?: string;
}

export type CreateRolloutRequest = Parameters<FleetClient['rollout']['create']['mutate']>[0];

/**
 * Validates the flags of `rollout create` into the input sent to the server. Flags left out
 * are left out of the request too, so the server's defaults apply.
 */
export function createRolloutInput(options: CreateOptions): CreateRolloutRequest {
  if (options.all !== true) {
    throw new UsageError('choose the target devices: pass --all (the only target for now)');
  }
  const ackTimeoutMs = durationOption('--ack-timeout', options.ackTimeout);
  const maxAttempts = intOption('--max-attempts', options.maxAttempts, 1, 100);
  const baseMs = durationOption('--retry-base', options.retryBase);
  const maxMs = durationOption('--retry-max', options.retryMax);
  const input: CreateRolloutRequest = {
    patchId: options.patch,
    target: { kind: 'all' as const },
    ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(baseMs !== undefined || maxMs !== undefined
      ? {
          retryBackoff: {
            baseMs: baseMs ?? Math.min(2_000, maxMs ?? 2_000),
            maxMs: maxMs ?? Math.max(60_000, baseMs ?? 0),
          },
        }
      : {}),
  };
  check('rollout', CreateRolloutInput, input);
  return input;
}

export function rolloutDetail(status: RolloutStatus, s: Session): string {
  const { c } = s;
  const p = progressOf(status);
  const head = keyValues(
    [
      ['Rollout', c.bold(status.id)],
      ['Patch', patchLabel(status.patchId, status.patch)],
      ['Status', colorRolloutStatus(status.status, c)],
      ['Target', status.target.kind === 'all' ? 'all devices' : status.target.kind],
      ['Created', `${formatWhen(status.createdAt, s.now())} by ${status.createdBy}`],
      ...(status.canceledAt !== null
        ? [['Canceled', `${formatWhen(status.canceledAt, s.now())} by ${status.canceledBy ?? '?'}`] as const]
        : []),
      [
        'Policy',
        `ack timeout ${formatDuration(status.ackTimeoutMs)}, max ${status.maxAttempts} attempts, retry backoff ${formatDuration(
          status.retryBackoff.baseMs,
        )}..${formatDuration(status.retryBackoff.maxMs)}`,
      ],
      ['Progress', `${p.finished}/${p.targeted} finished (${p.percent}%), ${p.open} open`],
    ],
    c,
  );
  const counts = table(
    ['STATE', 'DEVICES'],
    (Object.keys(status.counts) as Array<keyof RolloutStatus['counts']>).map((state) => [
      colorState(state, c),
      status.counts[state],
    ]),
    c,
    ['left', 'right'],
  );
  return `${head}\n\n${counts}`;
}

export function registerRolloutCommands(program: Command, io: FleetIO): void {
  const rollout = program
    .command('rollout')
    .alias('rollouts')
    .description('create, follow and cancel rollouts');

  rollout
    .command('create')
    .description('roll a patch out; prints the rollout id')
    .requiredOption('--patch <id>', 'patch id (pat_…)')
    .option('--all', 'target every device (required: the only target for now)')
    .option('--ack-timeout <duration>', 'a device must report within this long (server default 60s)')
    .option('--max-attempts <n>', 'attempts per device before it counts as failed (server default 5)')
    .option('--retry-base <duration>', 'first retry backoff (server default 2s)')
    .option('--retry-max <duration>', 'longest retry backoff (server default 60s)')
    .action(async (options: CreateOptions, command: Command) => {
      const s = Session.of(io, command);
      const input = createRolloutInput(options);
      const created = await s.withClient((client) => client.rollout.create.mutate(input));
      s.output(created, () => created.id);
      s.note(
        `rollout of ${patchLabel(created.patchId, created.patch)} to all devices created: ${created.targeted} targeted`,
      );
    });

  rollout
    .command('status')
    .alias('show')
    .description('show a rollout and its delivery counts')
    .argument('<id>', 'rollout id (ro_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const rolloutId = rolloutIdArg(id);
      const status = await s.withClient((client) => client.rollout.get.query({ rolloutId }));
      s.output(status, () => rolloutDetail(status, s));
    });

  rollout
    .command('list')
    .description('list rollouts, newest first')
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .action(async (options: { limit: string }, command: Command) => {
      const s = Session.of(io, command);
      const limit = intOption('--limit', options.limit, 1, 500);
      const rollouts = await s.withClient((client) => client.rollout.list.query({ limit }));
      s.output(rollouts, () => {
        if (rollouts.length === 0) {
          s.note('no rollouts yet');
          return null;
        }
        return table(
          ['ID', 'PATCH', 'STATUS', 'TARGETED', 'SUCCEEDED', 'FAILED', 'CANCELED', 'OPEN', 'CREATED'],
          rollouts.map((r) => {
            const p = progressOf(r);
            return [
              r.id,
              patchLabel(r.patchId, r.patch),
              colorRolloutStatus(r.status, s.c),
              r.targeted,
              r.counts.succeeded,
              r.counts.failed,
              r.counts.canceled,
              p.open,
              formatWhen(r.createdAt, s.now()),
            ];
          }),
          s.c,
          ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'],
        );
      });
    });

  rollout
    .command('cancel')
    .description('cancel a rollout: open deliveries are canceled')
    .argument('<id>', 'rollout id (ro_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const rolloutId = rolloutIdArg(id);
      const status = await s.withClient((client) => client.rollout.cancel.mutate({ rolloutId }));
      s.output(status, () => `canceled ${status.id}: ${statusSummary(status)}`);
    });

  registerWatchCommand(rollout, io);
}
