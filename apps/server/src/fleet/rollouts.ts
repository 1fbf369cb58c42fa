import {
  type CreateRolloutInput,
  FleetError,
  parseSelector,
  type RolloutStatus,
  type StateCounts,
} from '@camfleet/contracts';
import { ALL_BUCKETS, bucketOf } from '../redis/keys.js';
import { parseReply, runInEveryBucket, runScript } from '../redis/scripts.js';
import { type FleetDeps, randomId, runDurable, throwPipelineErrors, unwrap, whenChanged } from './deps.js';
import { type GateFacts, gateOf } from './gates.js';
import { byInstanceOf, type HintBus } from './hints.js';
import { addCounts, emptyCounts, isLimited, rolloutFrom, rolloutSettingsFields } from './records.js';

type Hash = Record<string, string>;
export type RolloutAction = 'pause' | 'resume' | 'cancel' | 'abort' | 'advance' | 'open' | 'met';

/** A rollout as the controller and status readers see it: record, counters and gate facts. */
export interface RolloutView {
  status: RolloutStatus;
  facts: GateFacts | null;
}

/** Rollouts: creation, operator and controller transitions, status with counters and gates. */
export class Rollouts {
  private hints: HintBus | null = null;

  constructor(private readonly deps: FleetDeps) {}

  attachHints(hints: HintBus): void {
    this.hints = hints;
  }

  async create(input: CreateRolloutInput, actor: string): Promise<RolloutStatus> {
    const id = `ro_${randomId()}`;
    const k = this.deps.keys;
    const reply = parseReply(
      await runDurable(
        this.deps,
        'rollout_create',
        k.patch(input.patchId),
        k.rollout(id),
        k.rollouts,
        k.rolloutSeq,
        k.attaching,
        k.liveRollouts,
        k.rolloutEvents,
        id,
        JSON.stringify(rolloutSettingsFields(input)),
        actor,
      ),
    );
    unwrap(reply, `patch ${input.patchId}`);
    // The attach hints exactly the devices that got work: no broadcast for every pod to re-check all.
    await this.attach(id);
    return this.get(id);
  }

  /** Brings a rollout into every bucket (idempotent), then clears its attaching mark. */
  async attach(rolloutId: string): Promise<void> {
    const hash = await this.deps.redis.hgetall(this.deps.keys.rollout(rolloutId));
    if (!hash.id) return;
    const rollout = rolloutFrom(hash);
    const settings = JSON.stringify({
      seq: hash.seq,
      patchId: hash.patchId,
      name: hash.name,
      version: hash.version,
      notes: hash.notes ?? '',
      artifact: hash.artifact ?? '',
      signature: hash.signature ?? '',
      ackTimeoutMs: hash.ackTimeoutMs,
      maxAttempts: hash.maxAttempts,
      backoffBaseMs: hash.backoffBaseMs,
      backoffMaxMs: hash.backoffMaxMs,
      waves: hash.waves,
      target: rollout.target.kind,
      selector:
        rollout.target.kind === 'selector' ? JSON.stringify(parseSelector(rollout.target.selector)) : '',
      continuous: rollout.snapshot ? '0' : '1',
      limited: isLimited(rollout) ? '1' : '0',
      supersede: rollout.supersede ? '1' : '0',
      status: hash.status,
      openWave: hash.openWave,
    });
    const idsByBucket = new Map<number, string[]>();
    if (rollout.target.kind === 'devices') {
      for (const id of rollout.target.deviceIds) {
        const n = bucketOf(id);
        idsByBucket.set(n, [...(idsByBucket.get(n) ?? []), id]);
      }
    }
    // Every bucket at once (Redis runs them back to back, about 50 µs a device: measured best for
    // the slowest offer), each hinting its online devices as soon as its deliveries exist.
    await Promise.all(
      ALL_BUCKETS.map(async (n) => {
        const bucket = this.deps.keys.bucket(n);
        const reply = (await runScript(
          this.deps.redis,
          'rollout_attach',
          this.deps.keys.due(bucket),
          bucket,
          rolloutId,
          this.deps.hintGraceMs,
          settings,
          ...(idsByBucket.get(n) ?? []),
        )) as [number, ...string[]];
        await this.hints?.hint(byInstanceOf(reply.slice(1) as string[]));
      }),
    );
    // Only now may its gates be judged: before, every wave looks empty (and an empty wave is met).
    await this.deps.redis
      .multi()
      .srem(this.deps.keys.attaching, rolloutId)
      .zadd(this.deps.keys.evalQueue, 0, rolloutId)
      .exec();
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
  ): Promise<boolean> {
    const k = this.deps.keys;
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'rollout_transition',
        k.rollout(rolloutId),
        k.liveRollouts,
        k.evalQueue,
        k.rolloutEvents,
        action,
        actor,
        reason,
        expectedWave,
      ),
    );
    const [status, openWave, changed] = unwrap(reply, `rollout ${rolloutId}`) as [string, number, number];
    if (changed === 0 || action === 'met') return changed === 1;
    await this.sync(rolloutId, status, openWave, reason || `${action} by ${actor}`);
    return true;
  }

  /** Pushes status and open wave into every bucket's copy. */
  async sync(rolloutId: string, status: string, openWave: number, reason: string): Promise<void> {
    const notify = (await runInEveryBucket(
      this.deps.redis,
      this.deps.keys,
      'rollout_sync_bucket',
      rolloutId,
      status,
      openWave,
      this.deps.hintGraceMs,
      reason,
    )) as string[][];
    await this.hints?.hint(byInstanceOf(notify.flat()));
    await this.hints?.broadcast();
  }

  async get(rolloutId: string): Promise<RolloutStatus> {
    return (await this.view(rolloutId)).status;
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
        .then((results) => throwPipelineErrors(results) as [Hash, [string, string]]),
      Promise.all(ALL_BUCKETS.map((n) => redis.hgetall(this.deps.keys.rolloutCounts(n, rolloutId)))),
    ]);
    if (!hash?.id) throw new FleetError('NOT_FOUND', `no rollout ${rolloutId}`);
    const rollout = rolloutFrom(hash);
    const counts = emptyCounts();
    const waveCounts: StateCounts[] = rollout.waves.map(() => emptyCounts());
    let timeouts = 0;
    for (const bucketCounts of buckets) {
      addCounts(counts, bucketCounts);
      for (const [i, wave] of waveCounts.entries()) addCounts(wave, bucketCounts, `w${i}:`);
      timeouts += Number(bucketCounts.timeouts ?? 0);
    }
    const targeted = Object.values(counts).reduce((a, b) => a + b, 0);
    const open = counts.queued + counts.offered + counts.downloading + counts.installing + counts.verifying;
    const stored = hash.status as RolloutStatus['status'];
    const live = stored === 'active' || stored === 'paused';
    const facts: GateFacts | null = live
      ? {
          rollout,
          status: stored,
          reason: hash.reason || null,
          openWave: Number(hash.openWave ?? 0),
          waveMetAt: Number(hash.waveMetAt ?? 0),
          counts,
          waveCounts,
          timeouts,
          now: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
        }
      : null;
    const status: RolloutStatus = {
      ...rollout,
      status: stored === 'active' && open === 0 && targeted > 0 ? 'completed' : stored,
      reason: hash.reason || null,
      statusBy: hash.statusBy || null,
      statusAt: hash.statusAt ? Number(hash.statusAt) : null,
      targeted,
      counts,
      wave: Number(hash.openWave ?? 0),
      waveCounts,
      gate: facts ? gateOf(facts) : null,
    };
    return { status, facts };
  }

  async list(limit: number): Promise<RolloutStatus[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.rollouts, 0, limit - 1);
    return Promise.all(ids.map((id) => this.get(id)));
  }

  watch(rolloutId: string, intervalMs: number, signal: AbortSignal): AsyncGenerator<RolloutStatus> {
    return whenChanged(() => this.get(rolloutId), fingerprintOf, intervalMs, signal);
  }

  watchList(limit: number, intervalMs: number, signal: AbortSignal): AsyncGenerator<RolloutStatus[]> {
    return whenChanged(
      () => this.list(limit),
      (list) => list.map(fingerprintOf).join('|'),
      intervalMs,
      signal,
    );
  }
}

/** What a watcher sees change in a rollout (not its timestamps). */
function fingerprintOf(status: RolloutStatus): string {
  return JSON.stringify([status.id, status.status, status.counts, status.wave, status.gate]);
}
