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
  /**
   * Whether an applied patch needs a restart (the default): the device reports `installed`, drops
   * its connection, stays away `rebootMs`, and proves the new version by registering with it.
   * Without a restart it reports `succeeded` with the version it now runs.
   */
  reboot: boolean;
  /** How long a restarting device stays away. */
  rebootMs: number;
  /**
   * Chance a restart comes back on the OLD firmware, as a camera whose bootloader rolled the
   * update back: it registers with its previous version and the server retries the delivery.
   * Only with `reboot`.
   */
  rollbackRate: number;
  /**
   * Chance the device refuses a cancel request for the attempt it is working on (it can no longer
   * stop, e.g. it is writing flash): it carries on and reports its real outcome.
   */
  refuseCancelRate: number;
  /**
   * Chance, per artifact download, that the connection is cut part-way (once or more): the device
   * resumes with a Range request and must still verify the whole file. Offers without an artifact
   * have nothing to download.
   */
  dropDownloadRate: number;
  /**
   * What the device does with an offer's maintenance window: `obey` it (begin the install only
   * inside it, as the protocol says) or `ignore` it, as a careless camera would, to test that the
   * server refuses an install before the window and takes back an attempt when it closes.
   */
  installWindow: 'obey' | 'ignore';
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
  reboot: true,
  rebootMs: 300,
  rollbackRate: 0,
  refuseCancelRate: 0,
  dropDownloadRate: 0,
  installWindow: 'obey',
};

/** Null if the options are usable, else what is wrong with them. */
export function faultProblem(faults: FaultOptions): string | null {
  for (const key of [
    'failRate',
    'slowRate',
    'crashRate',
    'hangRate',
    'rollbackRate',
    'refuseCancelRate',
    'dropDownloadRate',
  ] as const) {
    const value = faults[key];
    if (!(value >= 0 && value <= 1)) return `${key} must be between 0 and 1, got ${value}`;
  }
  for (const key of [
    'downloadMs',
    'applyMs',
    'slowMs',
    'crashDowntimeMs',
    'disconnectRate',
    'rebootMs',
  ] as const) {
    const value = faults[key];
    if (!(Number.isFinite(value) && value >= 0)) return `${key} must be a non-negative number, got ${value}`;
  }
  if (!faults.reboot && faults.rollbackRate > 0)
    return 'rollbackRate needs reboot: rollbacks happen at the restart';
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
  /** The restart after a successful apply comes back on the old firmware (never with `fails` or `hangs`). */
  rollsBack: boolean;
  /**
   * Where an artifact download is cut (--drop-download-rate), as ascending fractions of the file
   * in (0, 1); empty for none. Turned into byte offsets once the size is known.
   */
  downloadCuts: number[];
}

/** At most this many cuts in one download. */
export const MAX_DOWNLOAD_CUTS = 3;

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
  const rollsBack = random() < faults.rollbackRate && faults.reboot && !fails && !hangs;
  const downloadCuts: number[] = [];
  // Drawn only when enabled, so the other draws keep their order (tests replay fixed sequences).
  if (faults.dropDownloadRate > 0 && random() < faults.dropDownloadRate) {
    // Once, and again with even odds, up to MAX_DOWNLOAD_CUTS times.
    do downloadCuts.push(random());
    while (downloadCuts.length < MAX_DOWNLOAD_CUTS && random() < 0.5);
    downloadCuts.sort((a, b) => a - b);
  }
  return {
    downloadMs,
    applyMs,
    fails,
    crashAtMs: hangs ? null : crashAtMs,
    hangs,
    rollsBack,
    downloadCuts,
  };
}

/**
 * The byte offsets at which to cut a download of `size` bytes: each cut leaves at least one byte
 * received since the last one and one byte still to come, so every cut interrupts a body part-way.
 */
export function cutOffsets(fractions: readonly number[], size: number): number[] {
  const offsets: number[] = [];
  for (const fraction of fractions) {
    const offset = Math.min(size - 1, Math.max(1, Math.floor(fraction * size)));
    if (offset > (offsets.at(-1) ?? 0) && offset < size) offsets.push(offset);
  }
  return offsets;
}

/** Delay until the next network blip (exponentially distributed), or null when blips are off. */
export function nextBlipMs(faults: FaultOptions, random: Random): number | null {
  if (faults.disconnectRate <= 0) return null;
  return Math.round((-Math.log(1 - random()) / faults.disconnectRate) * 1000);
}
