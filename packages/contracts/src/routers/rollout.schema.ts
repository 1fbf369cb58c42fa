import { z } from 'zod';
import {
  DeviceId,
  PatchId,
  RolloutId,
  StateCounts,
  StoredDeviceId,
  safeText,
  Timestamp,
} from '../schemas.js';
import { parseSelector, SelectorError } from '../selector.js';
import { PatchName, PatchVersion } from './patch.schema.js';

export const SelectorText = safeText(1024, 1).superRefine((text, ctx) => {
  try {
    parseSelector(text);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: error instanceof SelectorError ? error.message : String(error),
    });
  }
});

export const RolloutTarget = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({ kind: z.literal('devices'), deviceIds: z.array(DeviceId).min(1).max(10_000) }),
  z.object({ kind: z.literal('selector'), selector: SelectorText }),
]);
export type RolloutTarget = z.infer<typeof RolloutTarget>;

/** A target as stored: a rollout created by an older version may name device ids with `:`. */
const StoredRolloutTarget = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({ kind: z.literal('devices'), deviceIds: z.array(StoredDeviceId) }),
  z.object({ kind: z.literal('selector'), selector: z.string() }),
]);

/** Cumulative percentages, increasing, ending at 100: `[1, 10, 50, 100]`. */
export const Waves = z
  .array(z.number().gt(0).max(100))
  .min(1)
  .max(20)
  .refine((w) => w.every((p, i) => i === 0 || p > (w[i - 1] ?? 0)), 'waves must increase')
  .refine((w) => w[w.length - 1] === 100, 'the last wave must be 100 (every targeted device)');

export const Ramp = z.object({
  startPerMinute: z.number().int().min(1).max(1_000_000),
  factor: z.number().min(1).max(100),
  everySuccesses: z.number().int().min(1).max(1_000_000),
});

export const RetryBackoff = z
  .object({
    baseMs: z.number().int().min(10).max(3_600_000).default(2_000),
    maxMs: z.number().int().min(10).max(86_400_000).default(60_000),
  })
  .refine((b) => b.maxMs >= b.baseMs, 'retryBackoff.maxMs must be at least baseMs');

/**
 * A backoff from one or both ends given (a CLI flag, a form field): the other end is the default,
 * moved so the pair stays valid (`--retry-base 2m` alone gives 2m..2m, not 2m..60s).
 */
export function retryBackoffOf(
  baseMs: number | undefined,
  maxMs: number | undefined,
): { baseMs: number; maxMs: number } | undefined {
  if (baseMs === undefined && maxMs === undefined) return undefined;
  return {
    baseMs: baseMs ?? Math.min(2_000, maxMs ?? 2_000),
    maxMs: maxMs ?? Math.max(60_000, baseMs ?? 0),
  };
}

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export const Weekday = z.enum(WEEKDAYS);
/** A time of day: `HH:MM` or `HH:MM:SS`, 24-hour. */
export const TimeOfDay = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'a time of day looks like 01:00 or 01:00:30');

/**
 * A recurring maintenance window in the device's local time: installs are offered only inside it.
 * `end` at or before `start` runs past midnight (the day named is the day it opens).
 */
export const MaintenanceWindow = z
  .object({
    days: z.array(Weekday).min(1).max(7),
    start: TimeOfDay,
    end: TimeOfDay,
  })
  .refine((w) => w.start !== w.end, {
    message: 'a window needs a length: start and end differ',
    path: ['end'],
  })
  .refine((w) => new Set(w.days).size === w.days.length, { message: 'a day is named twice', path: ['days'] });
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

/** An IANA time zone name (`Europe/Berlin`, `UTC`), as the runtime's ICU knows them. */
export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, 'an IANA time zone such as Europe/Berlin or UTC');

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** What a schedule's end does: cancel what is open, or let what is in flight finish. */
export const AtEnd = z.enum(['cancel', 'finish']);

export const CreateRolloutInput = z
  .object({
    patchId: PatchId,
    target: RolloutTarget.default({ kind: 'all' }),
    /** A device must report within this long after an offer (or its last report). */
    ackTimeoutMs: z.number().int().min(100).max(86_400_000).default(60_000),
    maxAttempts: z.number().int().min(1).max(100).default(5),
    retryBackoff: RetryBackoff.default({ baseMs: 2_000, maxMs: 60_000 }),
    waves: Waves.default([100]),
    /** auto: a wave opens when the previous one met the success threshold and soaked. */
    advance: z.enum(['auto', 'manual']).default('auto'),
    soakMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .default(0),
    /** Share of a wave's devices that must succeed before the next wave opens (auto). */
    successThreshold: z.number().min(0).max(1).default(1),
    maxInFlight: z.number().int().min(1).max(1_000_000).nullable().default(null),
    maxPerMinute: z.number().int().min(1).max(10_000_000).nullable().default(null),
    ramp: Ramp.nullable().default(null),
    /** Share of completed deliveries that may fail before the rollout trips (null: never). */
    failureThreshold: z.number().min(0).max(1).nullable().default(null),
    minSample: z.number().int().min(1).max(1_000_000).default(10),
    onFailure: z.enum(['pause', 'abort']).default('pause'),
    /** Count attempts that timed out as failures for the threshold. */
    countTimeouts: z.boolean().default(false),
    /** Only devices targeted at creation; later matches do not join. */
    snapshot: z.boolean().default(false),
    /** Cancel queued deliveries of older rollouts for the devices this one targets. */
    supersede: z.boolean().default(false),
    /** Epoch ms (Redis time) before which nothing is offered: the rollout waits paused by its schedule. */
    startAt: Timestamp.nullable().default(null),
    /** Epoch ms (Redis time) at which the rollout ends, as `atEnd` says. */
    endBy: Timestamp.nullable().default(null),
    /** At `endBy`: `cancel` everything still open (devices at work are asked to stop), or `finish`: nothing new starts, what is in flight completes. */
    atEnd: AtEnd.default('cancel'),
    /**
     * Installs are offered only inside these windows, in each device's local time: the zone of its
     * `tz` label, else `windowZone`. Empty: any time.
     */
    windows: z.array(MaintenanceWindow).max(14).default([]),
    /** The zone of devices without a (valid) `tz` label. */
    windowZone: TimeZone.default('UTC'),
    /**
     * With windows: offer at once, so devices download ahead of their window; the offer's
     * `installWindow` says when the install may begin. Without: the offer comes when the window opens.
     */
    downloadAhead: z.boolean().default(false),
  })
  .refine((r) => r.startAt === null || r.endBy === null || r.endBy > r.startAt, {
    message: 'endBy must come after startAt',
    path: ['endBy'],
  });
export type CreateRolloutInput = z.infer<typeof CreateRolloutInput>;

/** `completed` is derived: nothing open and at least one device targeted (a later device can reopen it). */
export const ROLLOUT_STATUSES = ['active', 'paused', 'completed', 'canceled', 'aborted'] as const;
export const RolloutStatusName = z.enum(ROLLOUT_STATUSES);

/** What holds the rollout back right now, if anything. */
export const Gate = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('paused'), reason: z.string() }),
  z.object({ kind: z.literal('operator'), wave: z.number().int() }),
  z.object({ kind: z.literal('success'), wave: z.number().int(), needed: z.number(), reached: z.number() }),
  z.object({ kind: z.literal('soak'), wave: z.number().int(), until: Timestamp }),
  /** Waiting for its schedule's start. */
  z.object({ kind: z.literal('scheduled'), startsAt: Timestamp }),
]);
export type Gate = z.infer<typeof Gate>;

export const Rollout = z.object({
  id: RolloutId,
  seq: z.number().int().positive(),
  patchId: PatchId,
  patch: z.object({ name: PatchName, version: PatchVersion }),
  target: StoredRolloutTarget,
  ackTimeoutMs: z.number().int(),
  maxAttempts: z.number().int(),
  retryBackoff: z.object({ baseMs: z.number().int(), maxMs: z.number().int() }),
  waves: z.array(z.number()),
  advance: z.enum(['auto', 'manual']),
  soakMs: z.number().int(),
  successThreshold: z.number(),
  maxInFlight: z.number().int().nullable(),
  maxPerMinute: z.number().int().nullable(),
  ramp: Ramp.nullable(),
  failureThreshold: z.number().nullable(),
  minSample: z.number().int(),
  onFailure: z.enum(['pause', 'abort']),
  countTimeouts: z.boolean(),
  snapshot: z.boolean(),
  supersede: z.boolean(),
  startAt: Timestamp.nullable(),
  endBy: Timestamp.nullable(),
  atEnd: AtEnd,
  windows: z.array(MaintenanceWindow),
  windowZone: z.string(),
  downloadAhead: z.boolean(),
  createdAt: Timestamp,
  createdBy: z.string(),
});
export type Rollout = z.infer<typeof Rollout>;

export const RolloutStatus = Rollout.extend({
  status: RolloutStatusName,
  /** Why the status is what it is (pause, abort, cancel), and who or what set it. */
  reason: z.string().nullable(),
  statusBy: z.string().nullable(),
  statusAt: Timestamp.nullable(),
  /** Devices with a delivery of this rollout, in any state. */
  targeted: z.number().int().nonnegative(),
  counts: StateCounts,
  /** Of the queued deliveries, those waiting for their device's maintenance window to open. */
  windowWaiting: z.number().int().nonnegative(),
  /** Index of the newest open wave. */
  wave: z.number().int().nonnegative(),
  waveCounts: z.array(StateCounts),
  gate: Gate.nullable(),
  /** Installs rebuilt from a delta, and the download bytes they saved (full size − delta size, each). */
  deltas: z.object({ installs: z.number().int().nonnegative(), savedBytes: z.number().int().nonnegative() }),
  /**
   * While the pods bring a new rollout into the fleet's buckets (in the background, after
   * `create` returned): how many of them it reached. Null once it reached every bucket.
   */
  attach: z.object({ buckets: z.number().int().nonnegative(), of: z.number().int().positive() }).nullable(),
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;

export const RolloutIdInput = z.object({ rolloutId: RolloutId });
export const RolloutActionInput = z.object({ rolloutId: RolloutId, reason: safeText(500).optional() });
export const WatchRolloutInput = z.object({
  rolloutId: RolloutId,
  intervalMs: z.number().int().min(100).max(60_000).default(500),
});
export const ListRolloutsInput = z.object({ limit: z.number().int().min(1).max(500).default(50) }).default({
  limit: 50,
});
/** How often the server re-reads what a list or overview subscription shows (it pushes only changes). */
export const WatchIntervalMs = z.number().int().min(250).max(60_000).default(1_000);
export const WatchRolloutsInput = z
  .object({ limit: z.number().int().min(1).max(500).default(50), intervalMs: WatchIntervalMs })
  .default({ limit: 50, intervalMs: 1_000 });

/** A rollout's counts at one moment, as the server recorded them. */
export const RolloutHistoryPoint = z.object({
  at: Timestamp,
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Offered, downloading, installing or verifying. */
  active: z.number().int().nonnegative(),
});
export type RolloutHistoryPoint = z.infer<typeof RolloutHistoryPoint>;

/**
 * A rollout's counts over time, oldest first: a point whenever they changed, recorded by the
 * server whether anyone watched or not. Bounded: past RolloutHistory's limit the older half is
 * thinned, so a long rollout keeps its whole course at a coarser step.
 */
export const RolloutHistory = z.object({ rolloutId: RolloutId, points: z.array(RolloutHistoryPoint) });
export type RolloutHistory = z.infer<typeof RolloutHistory>;

export interface RolloutService {
  create(input: CreateRolloutInput, actor: string): Promise<RolloutStatus>;
  list(limit: number): Promise<RolloutStatus[]>;
  get(rolloutId: string): Promise<RolloutStatus>;
  /** Its counts over time, as recorded (the dashboard's chart, the same before and after a reload). */
  history(rolloutId: string): Promise<RolloutHistory>;
  /** The newest rollouts now, then again whenever one of them changes. */
  watchList(limit: number, intervalMs: number, signal: AbortSignal): AsyncIterable<RolloutStatus[]>;
  /** Status snapshots, each one different from the last, until the signal aborts. */
  watch(rolloutId: string, intervalMs: number, signal: AbortSignal): AsyncIterable<RolloutStatus>;
  pause(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus>;
  resume(rolloutId: string, actor: string): Promise<RolloutStatus>;
  /** Opens the next wave now, whatever its gate. */
  advance(rolloutId: string, actor: string): Promise<RolloutStatus>;
  cancel(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus>;
}
