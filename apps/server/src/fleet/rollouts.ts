import {
  type CreateRolloutInput,
  DELIVERY_STATES,
  FleetError,
  type RolloutHistory,
  type RolloutService,
  type RolloutStatus,
  type StateCounts,
} from '@camfleet/contracts';
import { pipelineValues } from '../redis/pipeline.js';
import {
  type RolloutAction,
  rolloutCreate,
  rolloutSample,
  rolloutSyncBucket,
  rolloutTransition,
} from '../redis/scripts/index.js';
import type { RolloutAttacher } from './attacher.js';
import type { FleetDeps } from './deps.js';
import { type GateFacts, gateOf } from './gates.js';
import { byInstanceOf, type HintBus } from './hints.js';
import { randomId } from './ids.js';
import { SharedWatches, whenChanged } from './live-views.js';
import { addCounts, emptyCounts, rolloutFrom, rolloutSettingsFields } from './records.js';

type Hash = Record<string, string>;

/** Points a rollout's counts over time keep at most (rollout_sample.lua thins older ones past it). */
export const HISTORY_POINTS = 240;

/** A rollout as the controller and status readers see it: record, counters and gate facts. */
export interface RolloutView {
  status: RolloutStatus;
  facts: GateFacts | null;
}

/** Rollouts: creation, operator and controller transitions, status with counters and gates. */
export class Rollouts implements RolloutService {
  /** Live views (a rollout, the list) shared by every subscriber on this pod. */
  private readonly watches = new SharedWatches();

  constructor(
    private readonly deps: FleetDeps,
    private readonly hints: HintBus,
    private readonly attacher: RolloutAttacher,
  ) {}

  /**
   * Records the rollout and returns: the pods attach it in the background, bucket by bucket
   * (`attach` in its status until every bucket has it), this one starting at once.
   */
  async create(input: CreateRolloutInput, actor: string): Promise<RolloutStatus> {
    const id = `ro_${randomId()}`;
    await this.deps.scripts.runDurable(rolloutCreate, {
      patchId: input.patchId,
      rolloutId: id,
      settings: { ...rolloutSettingsFields(input), attachOf: String(this.deps.keys.allBuckets.length) },
      actor,
    });
    this.attacher.kick().catch((error: unknown) => {
      this.deps.log.warn({ err: error, rolloutId: id }, 'attaching a new rollout stopped; the pods go on');
    });
    return this.get(id);
  }

  /**
   * Applies a transition to the rollout record, then to every bucket's copy; devices asked to
   * cancel are hinted, and a broadcast lets every pod re-evaluate its devices.
   */
  async transition(
    rolloutId: string,
    action: RolloutAction,
    actor: string,
    reason = '',
    expectedWave = '',
    /** A schedule's end with `atEnd: finish`: deliveries in flight are not asked to stop. */
    finishInFlight = false,
  ): Promise<boolean> {
    const { status, openWave, changed } = await this.deps.scripts.run(rolloutTransition, {
      rolloutId,
      action,
      actor,
      reason,
      expectedWave,
    });
    if (!changed || action === 'met') return changed;
    await this.sync(rolloutId, status, openWave, reason || `${action} by ${actor}`, finishInFlight);
    // A canceled or aborted rollout is evaluated no more: its last counts are recorded here.
    await this.record(await this.get(rolloutId));
    return true;
  }

  /** Pushes status and open wave into every bucket's copy. */
  async sync(
    rolloutId: string,
    status: string,
    openWave: number,
    reason: string,
    finishInFlight = false,
  ): Promise<void> {
    const notify = await this.deps.scripts.runInEveryBucket(rolloutSyncBucket, {
      rolloutId,
      status,
      openWave,
      graceMs: this.deps.hintGraceMs,
      reason,
      finishInFlight,
    });
    await this.hints.hint(byInstanceOf(notify.flat()));
    await this.hints.broadcast();
  }

  async get(rolloutId: string): Promise<RolloutStatus> {
    return (await this.view(rolloutId)).status;
  }

  /** Adds a point to the rollout's counts over time if they changed since the last one. */
  async record(status: RolloutStatus): Promise<void> {
    const c = status.counts;
    await this.deps.scripts.run(rolloutSample, {
      rolloutId: status.id,
      succeeded: c.succeeded,
      failed: c.failed,
      active: c.offered + c.downloading + c.installing + c.verifying,
      most: HISTORY_POINTS,
    });
  }

  async history(rolloutId: string): Promise<RolloutHistory> {
    const { redis, keys } = this.deps;
    const [exists, points] = await Promise.all([
      redis.exists(keys.rollout(rolloutId)),
      redis.lrange(keys.rolloutSeries(rolloutId), 0, -1),
    ]);
    if (!exists) throw new FleetError('NOT_FOUND', `no rollout ${rolloutId}`);
    return {
      rolloutId,
      points: points.map((point) => {
        const [at, succeeded, failed, active] = point.split('|').map(Number);
        return { at: at ?? 0, succeeded: succeeded ?? 0, failed: failed ?? 0, active: active ?? 0 };
      }),
    };
  }

  /** Record + summed per-bucket counters (64 reads, one round trip per master; never a device scan). */
  async view(rolloutId: string): Promise<RolloutView> {
    const redis = this.deps.redis;
    const [[hash, time], buckets] = await Promise.all([
      // The record and the clock from the same node: the soak and timeout math uses that clock.
      redis
        .pipeline()
        .hgetall(this.deps.keys.rollout(rolloutId))
        .time()
        .exec()
        .then((results) => pipelineValues(results) as [Hash, [string, string]]),
      Promise.all(this.deps.keys.allBuckets.map((bucket) => redis.hgetall(bucket.key('counts', rolloutId)))),
    ]);
    if (!hash?.id) throw new FleetError('NOT_FOUND', `no rollout ${rolloutId}`);
    const rollout = rolloutFrom(hash);
    const counts = emptyCounts();
    const waveCounts: StateCounts[] = rollout.waves.map(() => emptyCounts());
    let timeouts = 0;
    const deltas = { installs: 0, savedBytes: 0 };
    const waveWindowed = rollout.waves.map(() => 0);
    // The scripts count per wave only: the rollout's totals are the waves' sums.
    for (const bucketCounts of buckets) {
      for (const [i, wave] of waveCounts.entries()) addCounts(wave, bucketCounts, `w${i}:`);
      timeouts += Number(bucketCounts.timeouts ?? 0);
      deltas.installs += Number(bucketCounts.deltaInstalls ?? 0);
      deltas.savedBytes += Number(bucketCounts.deltaSaved ?? 0);
      for (const i of waveWindowed.keys())
        waveWindowed[i] = (waveWindowed[i] ?? 0) + Number(bucketCounts[`w${i}:windowed`] ?? 0);
    }
    for (const wave of waveCounts) for (const state of DELIVERY_STATES) counts[state] += wave[state];
    const windowWaiting = waveWindowed.reduce((a, b) => a + b, 0);
    const targeted = Object.values(counts).reduce((a, b) => a + b, 0);
    const open = counts.queued + counts.offered + counts.downloading + counts.installing + counts.verifying;
    const stored = hash.status as RolloutStatus['status'];
    const attach = attachOf(hash);
    const live = stored === 'active' || stored === 'paused';
    const facts: GateFacts | null = live
      ? {
          rollout,
          status: stored,
          reason: hash.reason || null,
          statusBy: hash.statusBy || null,
          openWave: Number(hash.openWave ?? 0),
          waveMetAt: Number(hash.waveMetAt ?? 0),
          counts,
          waveCounts,
          waveWindowed,
          timeouts,
          attaching: attach !== null,
          now: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
        }
      : null;
    const status: RolloutStatus = {
      ...rollout,
      status: stored === 'active' && open === 0 && targeted > 0 && attach === null ? 'completed' : stored,
      reason: hash.reason || null,
      statusBy: hash.statusBy || null,
      statusAt: hash.statusAt ? Number(hash.statusAt) : null,
      targeted,
      counts,
      windowWaiting,
      wave: Number(hash.openWave ?? 0),
      waveCounts,
      gate: facts ? gateOf(facts) : null,
      deltas,
      attach,
    };
    return { status, facts };
  }

  async list(limit: number): Promise<RolloutStatus[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.rollouts, 0, limit - 1);
    return Promise.all(ids.map((id) => this.get(id)));
  }

  /** One read loop per pod and rollout, however many watch it. */
  watch(rolloutId: string, intervalMs: number, signal: AbortSignal): AsyncGenerator<RolloutStatus> {
    return this.watches.watch(
      `rollout:${rolloutId}:${intervalMs}`,
      (stop) => whenChanged(() => this.get(rolloutId), fingerprintOf, intervalMs, stop),
      signal,
    );
  }

  watchList(limit: number, intervalMs: number, signal: AbortSignal): AsyncGenerator<RolloutStatus[]> {
    return this.watches.watch(
      `rollouts:${limit}:${intervalMs}`,
      (stop) =>
        whenChanged(
          () => this.list(limit),
          (list) => list.map(fingerprintOf).join('|'),
          intervalMs,
          stop,
        ),
      signal,
    );
  }

  pause(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus> {
    return this.act(rolloutId, 'pause', actor, reason ?? `paused by ${actor}`);
  }
  resume(rolloutId: string, actor: string): Promise<RolloutStatus> {
    return this.act(rolloutId, 'resume', actor, '');
  }
  advance(rolloutId: string, actor: string): Promise<RolloutStatus> {
    return this.act(rolloutId, 'advance', actor, '');
  }
  cancel(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus> {
    return this.act(rolloutId, 'cancel', actor, reason ?? `canceled by ${actor}`);
  }

  /** An operator's transition, answered with the status after it. */
  private async act(
    rolloutId: string,
    action: RolloutAction,
    actor: string,
    reason: string,
  ): Promise<RolloutStatus> {
    await this.transition(rolloutId, action, actor, reason);
    return this.get(rolloutId);
  }
}

/** What a watcher sees change in a rollout (not its timestamps). */
function fingerprintOf(status: RolloutStatus): string {
  return JSON.stringify([status.id, status.status, status.counts, status.wave, status.gate, status.attach]);
}

/** How far its attach got, while it runs (null once every bucket has it, and for older rollouts). */
function attachOf(hash: Hash): RolloutStatus['attach'] {
  if (!hash.attachOf || hash.attachedAt) return null;
  return { buckets: Number(hash.attachDone ?? 0), of: Number(hash.attachOf) };
}
