import { deliveryPurge, retentionClaim, retentionDone } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';

/** FLEET_DELIVERY_RETENTION's default: an ended rollout's finished deliveries stay 30 days. */
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;
/** How long a pod holds an ended rollout it purges before another may take it over. */
const PURGE_LEASE_MS = 60_000;
/** Devices whose archives one script call looks at. */
const PAGE = 500;

/**
 * Ended rollouts' finished deliveries leave their devices once the retention is over: a rollout
 * canceled or aborted, or a snapshot rollout completed, long enough ago. Each device's archive
 * loses that rollout's line, bucket by bucket, a page of devices per script call; the rollout's
 * counters, events and audit stay, so `rollout status` shows it as before. A continuous rollout
 * keeps its lines while it is live: they are what keeps a device that comes back from being
 * targeted again.
 */
export class DeliveryRetention {
  constructor(private readonly deps: FleetDeps) {}

  /** Purges one ended rollout if one is due; true if it did (call again: more may be due). */
  async pass(): Promise<boolean> {
    const { scripts, keys, log } = this.deps;
    const claimed = await scripts.run(retentionClaim, {
      retentionMs: this.deps.deliveryRetentionMs ?? DEFAULT_RETENTION_MS,
      leaseMs: PURGE_LEASE_MS,
    });
    if (!claimed) return false;
    let removed = 0;
    for (const bucket of keys.allBuckets) {
      let after = '';
      do {
        const page = await scripts.run(deliveryPurge, {
          bucket,
          rolloutId: claimed.rolloutId,
          after,
          limit: PAGE,
        });
        removed += page.removed;
        after = page.next;
      } while (after !== '');
    }
    await scripts.run(retentionDone, claimed);
    log.info(
      { rolloutId: claimed.rolloutId, removed },
      'finished deliveries of an ended rollout removed (retention)',
    );
    return true;
  }
}
