import type { Gate, Rollout, StateCounts } from '@camfleet/contracts';

/** What the controller knows about a live rollout when it evaluates its gates. */
export interface GateFacts {
  rollout: Rollout;
  status: 'active' | 'paused';
  reason: string | null;
  /** Who set the status: `schedule` while a scheduled rollout waits for its start. */
  statusBy: string | null;
  openWave: number;
  /** When the open wave reached its success threshold (0: not yet). */
  waveMetAt: number;
  counts: StateCounts;
  waveCounts: StateCounts[];
  /** Per wave: queued deliveries waiting for their device's maintenance window. */
  waveWindowed: number[];
  /** Attempts that timed out on a connected device. */
  timeouts: number;
  /** Its attach has not reached every bucket: its waves do not hold all their devices yet. */
  attaching: boolean;
  now: number;
}

export type GateDecision =
  | { action: 'trip'; reason: string }
  | { action: 'met' }
  | { action: 'open' }
  /** Its schedule's start came: the rollout starts. */
  | { action: 'start' }
  /** Its schedule's end came: the rollout ends (`atEnd` says how). */
  | { action: 'end' }
  /** Nothing to do now; look again at `until` (soak end, schedule) or on the next trigger. */
  | { action: 'wait'; until: number | null };

/** The actor of a rollout's scheduled transitions: a rollout paused by it waits for its start. */
export const SCHEDULE_ACTOR = 'schedule';

/** Waiting for its schedule's start (not paused by an operator, not started early). */
function awaitingStart(f: GateFacts): f is GateFacts & { rollout: { startAt: number } } {
  return f.status === 'paused' && f.statusBy === SCHEDULE_ACTOR && f.rollout.startAt !== null;
}

const earliest = (...times: Array<number | null>): number | null =>
  times.reduce<number | null>((a, b) => (b === null ? a : a === null ? b : Math.min(a, b)), null);

const total = (c: StateCounts): number => Object.values(c).reduce((a, b) => a + b, 0);
const percent = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/**
 * Share of a wave's devices that succeeded, among those that could run: devices waiting for their
 * maintenance window are left out. An empty wave has nothing to wait for; a wave whose devices all
 * wait for their windows has not run yet.
 */
export function waveSuccess(counts: StateCounts | undefined, windowed = 0): number {
  if (!counts) return 1;
  const targeted = total(counts);
  if (targeted === 0) return 1;
  const couldRun = targeted - windowed;
  return couldRun <= 0 ? 0 : counts.succeeded / couldRun;
}

/** The failure-threshold verdict: a reason to trip, or null. */
export function failureTrip(f: GateFacts): string | null {
  const threshold = f.rollout.failureThreshold;
  if (threshold === null) return null;
  const failures = f.counts.failed + (f.rollout.countTimeouts ? f.timeouts : 0);
  const completed = f.counts.succeeded + failures;
  if (completed < f.rollout.minSample || failures / completed <= threshold) return null;
  const what = f.rollout.countTimeouts ? 'failed or timed out' : 'failed';
  return `failure threshold: ${failures} of ${completed} completed ${what} (${percent(failures / completed)} > ${percent(threshold)})`;
}

/**
 * What the controller should do next for a live rollout: its schedule first (end, start), then
 * its gates; a wait names the next moment the schedule needs a look.
 */
export function decide(f: GateFacts): GateDecision {
  const { startAt, endBy } = f.rollout;
  if (endBy !== null && f.now >= endBy) return { action: 'end' };
  const waiting = awaitingStart(f);
  if (waiting && f.now >= f.rollout.startAt) return { action: 'start' };
  const decision = decideGates(f);
  if (decision.action !== 'wait') return decision;
  return { action: 'wait', until: earliest(decision.until, waiting ? startAt : null, endBy) };
}

function decideGates(f: GateFacts): GateDecision {
  if (f.status !== 'active') return { action: 'wait', until: null };
  const trip = failureTrip(f);
  if (trip) return { action: 'trip', reason: trip };
  // A wave is judged on all its devices: the attach's end queues the rollout again.
  if (f.attaching) return { action: 'wait', until: null };
  const lastWave = f.rollout.waves.length - 1;
  if (f.openWave >= lastWave || f.rollout.advance === 'manual') return { action: 'wait', until: null };
  if (waveSuccess(f.waveCounts[f.openWave], f.waveWindowed[f.openWave]) < f.rollout.successThreshold)
    return { action: 'wait', until: null };
  if (f.waveMetAt === 0) return f.rollout.soakMs === 0 ? { action: 'open' } : { action: 'met' };
  const until = f.waveMetAt + f.rollout.soakMs;
  return f.now >= until ? { action: 'open' } : { action: 'wait', until };
}

/** What holds the rollout back right now, for operators. */
export function gateOf(f: GateFacts): Gate | null {
  if (awaitingStart(f)) return { kind: 'scheduled', startsAt: f.rollout.startAt };
  if (f.status === 'paused') return { kind: 'paused', reason: f.reason ?? 'paused' };
  const lastWave = f.rollout.waves.length - 1;
  if (f.openWave >= lastWave) return null;
  if (f.rollout.advance === 'manual') return { kind: 'operator', wave: f.openWave + 1 };
  const reached = waveSuccess(f.waveCounts[f.openWave], f.waveWindowed[f.openWave]);
  if (reached < f.rollout.successThreshold) {
    return { kind: 'success', wave: f.openWave, needed: f.rollout.successThreshold, reached };
  }
  if (f.rollout.soakMs > 0) {
    const since = f.waveMetAt || f.now;
    return { kind: 'soak', wave: f.openWave, until: since + f.rollout.soakMs };
  }
  return null;
}
