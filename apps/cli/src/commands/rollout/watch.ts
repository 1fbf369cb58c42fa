import type { FleetClient } from '@camfleet/client';
import { formatDuration, OPEN_STATES, type RolloutStatus } from '@camfleet/contracts';
import { progressOf } from '@camfleet/present';
import type { Command } from 'commander';
import { terminalBar } from '../../bar.js';
import { type Colors, colorState } from '../../colors.js';
import { CliError, EXIT, UsageError } from '../../errors.js';
import type { FleetIO, OutStream } from '../../io.js';
import { Session } from '../../session.js';
import { terminalText } from '../../table.js';
import { formatTimestamp } from '../../time.js';
import { durationOption, rolloutIdArg } from '../../validate.js';
import {
  colorRolloutStatus,
  gateText,
  statusCause,
  statusLine,
  statusSummary,
  waveLabel,
} from './present.js';

/**
 * Completed (with something targeted), canceled or aborted: the watch can end. Active and paused
 * rollouts are followed on, even with nothing in progress (a gate may be holding the next wave).
 */
export function isSettled(status: RolloutStatus): boolean {
  if (status.status === 'canceled' || status.status === 'aborted') return true;
  return status.status === 'completed' && status.targeted > 0;
}

/** 0 if the rollout completed and every targeted delivery succeeded, 1 otherwise. */
export function settledExitCode(status: RolloutStatus): number {
  return status.status === 'completed' && status.targeted > 0 && status.counts.succeeded === status.targeted
    ? EXIT.OK
    : EXIT.FAILURE;
}

/** `wave 1/3` and, if something holds the rollout back, what: for the live line and bar. */
function waveAndGate(status: RolloutStatus, now: number): string {
  const wave = `wave ${waveLabel(status)}`;
  return status.gate !== null ? `${wave} | ${gateText(status.gate, status.id, now)}` : wave;
}

/** Where watch progress goes while it runs. */
export interface WatchView {
  update(status: RolloutStatus): void;
  stop(): void;
}

/** One compact line per change, for pipes and logs. */
export function lineView(stream: OutStream, c: Colors, now: () => number): WatchView {
  let lastKey = '';
  return {
    update(status) {
      const key = JSON.stringify([status.status, status.targeted, status.counts, status.wave, status.gate]);
      if (key === lastKey) return;
      lastKey = key;
      const p = progressOf(status);
      const counts = (
        [
          'succeeded',
          'failed',
          'canceled',
          'queued',
          'offered',
          'downloading',
          'installing',
          'verifying',
        ] as const
      )
        .map((s) => `${colorState(s, c)}=${status.counts[s]}`)
        .join(' ');
      const gate = status.gate !== null ? ` | ${gateText(status.gate, status.id, now())}` : '';
      stream.write(
        `${terminalText(
          `${formatTimestamp(now())} ${status.id} ${colorRolloutStatus(status.status, c)} wave ${waveLabel(status)} ${p.finished}/${p.targeted} finished ${counts}${gate}`,
          c,
        )}\n`,
      );
    },
    stop() {},
  };
}

/** A live cli-progress bar: finished (succeeded + failed + canceled) over targeted. */
export function barView(stream: OutStream, c: Colors, now: () => number): WatchView {
  const bar = terminalBar(
    stream,
    `${c.cyan('{bar}')} {percentage}% | {value}/{total} finished | {status} {counts} | {wave}`,
    { emptyOnZero: true },
  );
  let started = false;
  // Final states always; moving states only while they have devices, to keep the line short.
  const payload = (status: RolloutStatus) => ({
    status: colorRolloutStatus(status.status, c),
    wave: waveAndGate(status, now()),
    counts: [
      `${c.green('ok')} ${status.counts.succeeded}`,
      `${c.red('failed')} ${status.counts.failed}`,
      `${c.gray('canceled')} ${status.counts.canceled}`,
      ...OPEN_STATES.filter((state) => status.counts[state] > 0).map(
        (state) => `${colorState(state, c)} ${status.counts[state]}`,
      ),
    ].join('  '),
  });
  return {
    update(status) {
      const p = progressOf(status);
      if (!started) {
        started = true;
        bar.start(p.targeted, p.finished, payload(status));
        return;
      }
      bar.setTotal(p.targeted);
      bar.update(p.finished, payload(status));
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export const silentView: WatchView = { update() {}, stop() {} };

export interface WatchOptions {
  rolloutId: string;
  timeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal | undefined;
}

export interface WatchResult {
  /** The last status seen (on a timeout too: see followRollout). */
  status: RolloutStatus;
  timedOut: boolean;
}

/**
 * Follows a rollout until it settles or the timeout passes. A plain query comes first, so a
 * missing rollout, a refused token or an unreachable server fail fast instead of retrying. A
 * timeout that passes before that query has answered waits for its answer (and opens no
 * subscription): the watch always ends with a status to print, or with the query's error.
 */
export function followRollout(
  client: FleetClient,
  options: WatchOptions,
  view: WatchView,
): Promise<WatchResult> {
  const { rolloutId, intervalMs, signal } = options;
  return new Promise<WatchResult>((resolve, reject) => {
    let done = false;
    let timedOut = false;
    let last: RolloutStatus | null = null;
    let subscription: { unsubscribe(): void } | null = null;
    const finish = (settle: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      subscription?.unsubscribe();
      view.stop();
      settle();
    };
    const onAbort = (): void => finish(() => reject(new CliError(EXIT.INTERRUPTED, 'interrupted')));
    const timer = setTimeout(() => {
      timedOut = true;
      // No status yet means the first query has not answered: its answer ends the watch.
      if (last !== null) {
        const status = last;
        finish(() => resolve({ status, timedOut: true }));
      }
    }, options.timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const onStatus = (status: RolloutStatus): void => {
      if (done) return;
      last = status;
      view.update(status);
      if (isSettled(status)) finish(() => resolve({ status, timedOut: false }));
    };

    client.rollout.get.query({ rolloutId }).then(
      (status) => {
        onStatus(status);
        if (done) return;
        if (timedOut) return finish(() => resolve({ status, timedOut: true }));
        subscription = client.rollout.watch.subscribe(
          { rolloutId, intervalMs },
          {
            onData: onStatus,
            onError: (error) => finish(() => reject(error)),
            onComplete: () =>
              finish(() =>
                reject(new CliError(EXIT.FAILURE, 'the server ended the watch before the rollout settled')),
              ),
          },
        );
        if (done) subscription.unsubscribe();
      },
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

function viewFor(s: Session): WatchView {
  const { io } = s;
  const now = () => s.now();
  if (s.json) {
    // stdout carries only the final document; show progress on a terminal's stderr, if any.
    return io.stderr.isTTY === true ? barView(io.stderr, s.ce, now) : silentView;
  }
  return io.stdout.isTTY === true ? barView(io.stdout, s.c, now) : lineView(io.stdout, s.c, now);
}

interface WatchFlags {
  timeout: string;
  interval: string;
}

export function registerWatchCommand(rollout: Command, io: FleetIO): void {
  rollout
    .command('watch')
    .description(
      'follow a rollout live until it completes, is canceled or aborted (exit 0 all succeeded, 1 otherwise, 3 timeout)',
    )
    .argument('<id>', 'rollout id (ro_…)')
    .option('--timeout <duration>', 'give up after this long (exit 3)', '10m')
    .option('--interval <duration>', 'how often the server checks for changes', '500ms')
    .addHelpText(
      'after',
      `
On a terminal: a live progress bar (finished over targeted, the wave and what holds it back),
redrawn in place. Piped: one line per change. With --json: only the final status document on
stdout (the bar goes to stderr if that is a terminal).

On --timeout the last status seen is still printed (as a document with --json). If the server
has not answered the first query by then, the watch waits for that answer: it always ends with
a status, or with the query's error (e.g. exit 4 for a rollout that does not exist).

Examples:
  fleet rollout watch ro_x
  fleet rollout watch ro_x --timeout 30m && echo "all cameras updated"
  fleet rollout watch ro_x --json | jq .counts`,
    )
    .action(async (id: string, flags: WatchFlags, command: Command) => {
      const s = Session.of(io, command);
      const rolloutId = rolloutIdArg(id);
      const timeoutMs = durationOption('--timeout', flags.timeout) ?? 0;
      const intervalMs = durationOption('--interval', flags.interval) ?? 500;
      if (timeoutMs <= 0) throw new UsageError('--timeout must be longer than 0');
      if (intervalMs < 100 || intervalMs > 60_000)
        throw new UsageError('--interval must be between 100ms and 60s');

      const result = await s.withClient((client) =>
        followRollout(client, { rolloutId, timeoutMs, intervalMs, signal: io.signal }, viewFor(s)),
      );
      const { status } = result;
      s.output(status, () => statusLine(status, s.c));
      if (result.timedOut) {
        const gate = status.gate ? `; ${gateText(status.gate, status.id, s.now())}` : '';
        throw new CliError(
          EXIT.TIMEOUT,
          `timed out after ${formatDuration(timeoutMs)} waiting for rollout ${rolloutId} to settle (${progressOf(status).finished}/${status.targeted} finished${gate})`,
        );
      }
      if (settledExitCode(status) !== EXIT.OK) {
        const cause = statusCause(status);
        const why =
          status.status === 'canceled' || status.status === 'aborted'
            ? `was ${status.status}${cause ? ` (${cause})` : ''}`
            : 'did not fully succeed';
        throw new CliError(EXIT.FAILURE, `rollout ${rolloutId} ${why}: ${statusSummary(status)}`);
      }
    });
}
