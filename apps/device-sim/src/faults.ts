/** A source of uniform numbers in [0, 1); injectable so tests can be deterministic. */
export type Random = () => number;

/**
 * What can go wrong on a simulated camera, and how slow it is. All rates are
 * probabilities in [0, 1] except `disconnectRate`, which is per second.
 */
export interface FaultOptions {
  /** Time between the `downloading` and `installing` reports. */
  downloadMs: number;
  /** Time between the `installing` report and the final one. */
  applyMs: number;
  /** Chance an install ends `failed` instead of `succeeded`. */
  failRate: number;
  /** Fraction of devices that are slow; a slow device adds `slowMs` to both install phases. */
  slowRate: number;
  slowMs: number;
  /**
   * Chance an install "crashes" the device part-way through applying: it drops its connection,
   * forgets its subscription position, and comes back `crashDowntimeMs` later. The install itself
   * resumes (progress is kept on flash); the server re-sends the current offer, which the device
   * must recognise as the one it is already working on.
   */
  crashRate: number;
  crashDowntimeMs: number;
  /** Mean network blips per device per second (0 = none). A blip drops the socket; the device fails over. */
  disconnectRate: number;
  /**
   * Chance an install attempt hangs, as a camera stuck in its updater: after its `installing`
   * report the device stays connected but never reports anything more for that attempt. The
   * server's ack timeout fails the attempt and offers a new one, which is planned afresh.
   */
  hangRate: number;
}

export const DEFAULT_FAULTS: FaultOptions = {
  downloadMs: 100,
  applyMs: 500,
  failRate: 0,
  slowRate: 0,
  slowMs: 2_000,
  crashRate: 0,
  crashDowntimeMs: 1_000,
  disconnectRate: 0,
  hangRate: 0,
};

/** Null if the options are usable, else what is wrong with them. */
export function faultProblem(faults: FaultOptions): string | null {
  for (const key of ['failRate', 'slowRate', 'crashRate', 'hangRate'] as const) {
    const value = faults[key];
    if (!(value >= 0 && value <= 1)) return `${key} must be between 0 and 1, got ${value}`;
  }
  for (const key of ['downloadMs', 'applyMs', 'slowMs', 'crashDowntimeMs', 'disconnectRate'] as const) {
    const value = faults[key];
    if (!(Number.isFinite(value) && value >= 0)) return `${key} must be a non-negative number, got ${value}`;
  }
  return null;
}

/** The per-install decisions, drawn once when an install starts. */
export interface InstallPlan {
  downloadMs: number;
  applyMs: number;
  fails: boolean;
  /** Ms into the apply phase at which the device crashes, or null. */
  crashAtMs: number | null;
  /** The attempt goes silent after its `installing` report (so it neither crashes nor ends). */
  hangs: boolean;
}

/** ±20% jitter so a fleet does not move in lockstep. */
function jitter(ms: number, random: Random): number {
  return Math.round(ms * (0.8 + 0.4 * random()));
}

export function planInstall(faults: FaultOptions, slow: boolean, random: Random): InstallPlan {
  const extra = slow ? faults.slowMs : 0;
  const applyMs = jitter(faults.applyMs, random) + extra;
  const downloadMs = jitter(faults.downloadMs, random) + extra;
  const fails = random() < faults.failRate;
  const crashAtMs = random() < faults.crashRate ? Math.floor(random() * applyMs) : null;
  const hangs = random() < faults.hangRate;
  return { downloadMs, applyMs, fails, crashAtMs: hangs ? null : crashAtMs, hangs };
}

/** Delay until the next network blip (exponentially distributed), or null when blips are off. */
export function nextBlipMs(faults: FaultOptions, random: Random): number | null {
  if (faults.disconnectRate <= 0) return null;
  return Math.round((-Math.log(1 - random()) / faults.disconnectRate) * 1000);
}
