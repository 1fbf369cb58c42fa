import { randomBytes } from 'node:crypto';
import {
  type CreateRolloutInput,
  FleetError,
  type Patch,
  type PublishPatchInput,
  type RolloutStatus,
} from '@camfleet/contracts';
import { ALL_BUCKETS } from '../redis/keys.js';
import { parseReply, queueScript, runScript } from '../redis/scripts.js';
import { type FleetDeps, throwPipelineErrors, unwrap } from './deps.js';
import type { HintBus } from './hints.js';
import { addCounts, emptyCounts, patchFrom, rolloutFrom } from './records.js';

const randomId = (): string => randomBytes(10).toString('hex');

/** Patches and rollouts: what operators publish and steer. */
export class Catalog {
  private hints: HintBus | null = null;

  constructor(private readonly deps: FleetDeps) {}

  attachHints(hints: HintBus): void {
    this.hints = hints;
  }

  async publishPatch(input: PublishPatchInput, actor: string): Promise<Patch> {
    const id = `pat_${randomId()}`;
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'patch_publish',
        this.deps.keys.patch(id),
        this.deps.keys.patches,
        this.deps.keys.patchNames,
        id,
        input.name,
        input.version,
        input.notes,
        actor,
      ),
    );
    const [createdAt] = unwrap(reply, 'publish') as [number];
    return {
      id,
      name: input.name,
      version: input.version,
      notes: input.notes,
      artifact: null,
      createdAt,
      createdBy: actor,
    };
  }

  async listPatches(limit: number): Promise<Patch[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.patches, 0, limit - 1);
    const hashes = await Promise.all(ids.map((id) => this.deps.redis.hgetall(this.deps.keys.patch(id))));
    return hashes.filter((h) => h.id).map(patchFrom);
  }

  async getPatch(patchId: string): Promise<Patch> {
    const hash = await this.deps.redis.hgetall(this.deps.keys.patch(patchId));
    if (!hash.id) throw new FleetError('NOT_FOUND', `no patch ${patchId}`);
    return patchFrom(hash);
  }

  async createRollout(input: CreateRolloutInput, actor: string): Promise<RolloutStatus> {
    const id = `ro_${randomId()}`;
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'rollout_create',
        this.deps.keys.patch(input.patchId),
        this.deps.keys.rollout(id),
        this.deps.keys.rollouts,
        this.deps.keys.rolloutSeq,
        this.deps.keys.attaching,
        id,
        JSON.stringify(input.target),
        input.ackTimeoutMs,
        input.maxAttempts,
        input.retryBackoff.baseMs,
        input.retryBackoff.maxMs,
        actor,
      ),
    );
    unwrap(reply, `patch ${input.patchId}`);
    await this.attachRollout(id);
    await this.hints?.broadcast();
    return this.getRollout(id);
  }

  /** Brings a rollout into every bucket (idempotent), then clears its attaching mark. */
  async attachRollout(rolloutId: string): Promise<void> {
    const hash = await this.deps.redis.hgetall(this.deps.keys.rollout(rolloutId));
    if (!hash.id) return;
    const pipeline = this.deps.redis.pipeline();
    for (const n of ALL_BUCKETS) {
      const bucket = this.deps.keys.bucket(n);
      queueScript(
        pipeline,
        'rollout_attach',
        this.deps.keys.due(bucket),
        bucket,
        rolloutId,
        hash.seq ?? '0',
        hash.patchId ?? '',
        hash.name ?? '',
        hash.version ?? '',
        hash.notes ?? '',
        hash.artifact ?? '',
        hash.ackTimeoutMs ?? '60000',
        hash.maxAttempts ?? '5',
        hash.backoffBaseMs ?? '2000',
        hash.backoffMaxMs ?? '60000',
        this.deps.hintGraceMs,
      );
    }
    throwPipelineErrors(await pipeline.exec());
    await this.deps.redis.srem(this.deps.keys.attaching, rolloutId);
  }

  async cancelRollout(rolloutId: string, actor: string): Promise<RolloutStatus> {
    const reply = parseReply(
      await runScript(this.deps.redis, 'rollout_cancel', this.deps.keys.rollout(rolloutId), actor),
    );
    unwrap(reply, `rollout ${rolloutId}`);
    const pipeline = this.deps.redis.pipeline();
    for (const n of ALL_BUCKETS) {
      const bucket = this.deps.keys.bucket(n);
      queueScript(
        pipeline,
        'rollout_cancel_bucket',
        this.deps.keys.due(bucket),
        bucket,
        rolloutId,
        this.deps.hintGraceMs,
      );
    }
    throwPipelineErrors(await pipeline.exec());
    // Devices whose active delivery was canceled may have other work now.
    await this.hints?.broadcast();
    return this.getRollout(rolloutId);
  }

  async getRollout(rolloutId: string): Promise<RolloutStatus> {
    const pipeline = this.deps.redis.pipeline().hgetall(this.deps.keys.rollout(rolloutId));
    for (const n of ALL_BUCKETS) pipeline.hgetall(this.deps.keys.rolloutCounts(n, rolloutId));
    const results = throwPipelineErrors(await pipeline.exec()) as Record<string, string>[];
    const [hash, ...buckets] = results;
    if (!hash?.id) throw new FleetError('NOT_FOUND', `no rollout ${rolloutId}`);
    const counts = emptyCounts();
    for (const bucketCounts of buckets) addCounts(counts, bucketCounts);
    const rollout = rolloutFrom(hash);
    const targeted = Object.values(counts).reduce((a, b) => a + b, 0);
    const open = counts.queued + counts.offered + counts.downloading + counts.installing;
    const status = rollout.canceledAt ? 'canceled' : open === 0 && targeted > 0 ? 'completed' : 'active';
    return { ...rollout, status, targeted, counts };
  }

  async listRollouts(limit: number): Promise<RolloutStatus[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.rollouts, 0, limit - 1);
    return Promise.all(ids.map((id) => this.getRollout(id)));
  }

  async *watchRollout(
    rolloutId: string,
    intervalMs: number,
    signal: AbortSignal,
  ): AsyncGenerator<RolloutStatus> {
    let last = '';
    while (!signal.aborted) {
      const status = await this.getRollout(rolloutId);
      const fingerprint = `${status.status}|${JSON.stringify(status.counts)}`;
      if (fingerprint !== last) {
        last = fingerprint;
        yield status;
      }
      await sleep(intervalMs, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
