import type { RedisClient } from '@camfleet/redis';
import type { Rollouts } from '../fleet/rollouts.js';
import { type LiveDeliveries, MAX_ROLLOUTS_REPORTED } from '../metrics.js';
import type { KeySpace } from '../redis/keys.js';

/**
 * The per-state delivery counts of the live rollouts, from the same view the controller judges
 * gates by (summed bucket counters: no device scan). At most `cap` rollouts, the newest first, so
 * the metric's cardinality stays bounded however many rollouts are left live.
 */
export async function readLiveDeliveries(
  redis: RedisClient,
  keys: KeySpace,
  rollouts: Rollouts,
  cap = MAX_ROLLOUTS_REPORTED,
): Promise<LiveDeliveries> {
  const ids = await redis.smembers(keys.liveRollouts);
  let chosen = ids;
  if (ids.length > cap) {
    const seqs = await redis.zmscore(keys.rollouts, ...ids);
    chosen = ids
      .map((id, i) => ({ id, seq: Number(seqs[i] ?? 0) }))
      .sort((a, b) => b.seq - a.seq)
      .slice(0, cap)
      .map(({ id }) => id);
  }
  const views = await Promise.all(chosen.map((id) => rollouts.view(id).catch(() => null)));
  const live: LiveDeliveries['rollouts'] = [];
  views.forEach((view, i) => {
    const rolloutId = chosen[i];
    if (view?.facts && rolloutId) live.push({ rolloutId, counts: view.status.counts });
  });
  return { total: ids.length, rollouts: live };
}
