import type { RedisClient } from '@camfleet/redis';
import { BucketLayout, type BucketLayoutState } from '../redis/bucket-layout.js';
import type { KeySpace } from '../redis/keys.js';
import { pipelineValues } from '../redis/pipeline.js';

/** The bucket layout stored in Redis, read in one transaction (the default when none is stored). */
export async function readLayout(redis: RedisClient, keys: KeySpace): Promise<BucketLayoutState> {
  const [hash, split] = pipelineValues(
    await redis.multi().hgetall(keys.bucketLayout).smembers(keys.bucketLayoutSplit).exec(),
  ) as [Record<string, string>, string[]];
  if (!hash.count) return BucketLayout.initial.state;
  return {
    count: Number(hash.count),
    target: hash.target ? Number(hash.target) : null,
    split: new Set(split.map(Number)),
    version: Number(hash.version ?? 0),
  };
}

/**
 * Keeps a pod on the stored layout: reads it, follows a new version, and says in Redis which version
 * it follows (`{g}:node-layout`), so a bucket split waits until every live pod places devices anew.
 */
export class LayoutFollower {
  private acknowledged = -1;

  constructor(private readonly deps: { redis: RedisClient; keys: KeySpace; instance: string }) {}

  /** One HGET while nothing changed; the whole layout only when its version moved. */
  async pass(): Promise<void> {
    const { redis, keys, instance } = this.deps;
    const version = Number((await redis.hget(keys.bucketLayout, 'version')) ?? 0);
    if (version === keys.layout.state.version && this.acknowledged === version) return;
    const state = await readLayout(redis, keys);
    if (state.version !== keys.layout.state.version) keys.follow(state);
    if (this.acknowledged === state.version) return;
    // On the same connection as the scripts: anything sent before it reached Redis before it.
    await redis.hset(keys.nodeLayout, instance, state.version);
    this.acknowledged = state.version;
  }
}
