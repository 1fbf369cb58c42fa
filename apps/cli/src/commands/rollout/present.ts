import {
  DELIVERY_STATES,
  formatDuration,
  type Gate,
  type RolloutStatus,
  type RolloutTarget,
} from '@camfleet/contracts';
import {
  gateText as describeGate,
  formatBytes,
  formatPercent,
  openOf,
  progressOf,
  totalOf,
  windowsText,
} from '@camfleet/present';
import { type Colors, colorState } from '../../colors.js';
import type { Session } from '../../session.js';
import { keyValues } from '../../table.js';
import { formatIn, formatTimeOfDay, formatWhen } from '../../time.js';

export function colorRolloutStatus(status: RolloutStatus['status'], c: Colors): string {
  switch (status) {
    case 'completed':
      return c.green(status);
    case 'canceled':
      return c.gray(status);
    case 'aborted':
      return c.red(status);
    case 'paused':
      return c.yellow(status);
    default:
      return c.cyan(status);
  }
}

/** `2/3` (the newest open wave, counted from 1, over the number of waves). */
export function waveLabel(status: Pick<RolloutStatus, 'wave' | 'waves'>): string {
  return `${status.wave + 1}/${status.waves.length}`;
}

/** What holds a rollout back, for people: `waiting for wave 1 to reach 95% success (80% now)`. */
export function gateText(gate: Gate, rolloutId: string, now: number): string {
  return describeGate(gate, {
    share: (share) => formatPercent(share),
    advanceHint: `fleet rollout advance ${rolloutId}`,
    soak: (soak) => `soaking until ${formatTimeOfDay(soak.until, now)} (${formatIn(soak.until, now)})`,
    at: (ms) => `at ${formatTimeOfDay(ms, now)} (${formatIn(ms, now)})`,
  });
}

/** Who set a paused/canceled/aborted status and why: `by alice: maintenance window`; null otherwise. */
export function statusCause(status: Pick<RolloutStatus, 'status' | 'reason' | 'statusBy'>): string | null {
  if (status.status === 'active' || status.status === 'completed') return null;
  const reason = status.reason?.trim() ? status.reason.trim() : null;
  if (status.statusBy && reason) return `by ${status.statusBy}: ${reason}`;
  if (status.statusBy) return `by ${status.statusBy}`;
  return reason;
}

/**
 * One line for a rollout: `ro_x paused, wave 1/3: 3/10 finished, 3 succeeded, 7 in progress (by bob: why)`.
 * The wave is left out of single-wave rollouts.
 */
export function statusLine(status: RolloutStatus, c: Colors): string {
  const wave = status.waves.length > 1 ? `, wave ${waveLabel(status)}` : '';
  const cause = statusCause(status);
  return `${status.id} ${colorRolloutStatus(status.status, c)}${wave}: ${statusSummary(status)}${
    cause ? ` (${cause})` : ''
  }`;
}

/** `pat_x (cam-fw 1.2.3)` */
export function patchLabel(patchId: string, patch: { name: string; version: string } | null): string {
  return patch ? `${patchId} (${patch.name} ${patch.version})` : patchId;
}

/** `7/10 finished, 6 succeeded, 1 failed, 3 in progress` (and how far its attach got, while it runs) */
export function statusSummary(status: RolloutStatus): string {
  const p = progressOf(status);
  const parts = [`${p.finished}/${p.targeted} finished`, `${status.counts.succeeded} succeeded`];
  if (status.counts.failed > 0) parts.push(`${status.counts.failed} failed`);
  if (status.counts.canceled > 0) parts.push(`${status.counts.canceled} canceled`);
  if (p.open > 0) parts.push(`${p.open} in progress`);
  if (status.attach) parts.push(`attached in ${status.attach.buckets}/${status.attach.of} buckets so far`);
  return parts.join(', ');
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

/** `starts 14:00 (in 2h), ends 18:00 (in 6h): finish what is in flight`, in the operator's time zone. */
export function scheduleDetail(
  status: Pick<RolloutStatus, 'startAt' | 'endBy' | 'atEnd'>,
  now: number,
): string {
  const at = (ms: number) => `${new Date(ms).toISOString()} (${formatIn(ms, now)})`;
  const parts = [
    ...(status.startAt !== null ? [`starts ${at(status.startAt)}`] : []),
    ...(status.endBy !== null
      ? [
          `ends ${at(status.endBy)}: ${status.atEnd === 'finish' ? 'what is in flight finishes' : 'what is open is canceled'}`,
        ]
      : []),
  ];
  return parts.join(', ');
}

/** `Mon-Fri 01:00-04:00 device-local (tz label, else UTC); 12 waiting for their window`. */
export function windowsDetail(
  status: Pick<RolloutStatus, 'windows' | 'windowZone' | 'windowWaiting'>,
): string {
  const windows = windowsText(status.windows);
  const waiting = status.windowWaiting > 0 ? `; ${status.windowWaiting} waiting for their window` : '';
  return `${windows} device-local (tz label, else ${status.windowZone})${waiting}`;
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
      ...(status.startAt !== null || status.endBy !== null
        ? [['Schedule', scheduleDetail(status, s.now())] as const]
        : []),
      ...(status.windows.length > 0 ? [['Windows', windowsDetail(status)] as const] : []),
      ...(status.deltas.installs > 0
        ? [
            [
              'Deltas',
              `${status.deltas.installs} installed from a delta, ${formatBytes(status.deltas.savedBytes)} not downloaded`,
            ] as const,
          ]
        : []),
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
