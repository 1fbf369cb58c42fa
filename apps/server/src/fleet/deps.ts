import type { RedisClient } from '@camfleet/redis';
import type { Logger } from 'pino';
import type { PresignConfig } from '../artifacts/config.js';
import type { DeltaOptions } from '../artifacts/zstd-delta.js';
import type { Metrics } from '../metrics.js';
import type { KeySpace } from '../redis/keys.js';
import type { Scripts } from '../redis/script.js';
import type { WebhookSettings } from '../webhooks/settings.js';

/** What every part of the Redis fleet shares. */
export interface FleetDeps {
  redis: RedisClient;
  keys: KeySpace;
  /** The transition scripts, run on `redis` (durable ones through the replicated connection). */
  scripts: Scripts;
  /** This pod instance (node id + boot id): what presence and hints name. */
  instance: string;
  log: Logger;
  /** How long an offerable device may wait for its pod before the sweeper hints again. */
  hintGraceMs: number;
  /** How long a pod holds a bucket of a rollout it attaches (default ATTACH_LEASE_MS). */
  attachLeaseMs?: number;
  /** How long an ended rollout's finished deliveries are kept (default DEFAULT_RETENTION_MS). */
  deliveryRetentionMs?: number;
  /** This pod's metrics (its own registry). */
  metrics: Metrics;
  /** The event feed's reads (default: polled on `redis`, 5,000 events a follower may have waiting). */
  events?: {
    /**
     * A new connection for one blocking read over every stream. Absent on Redis Cluster, where a
     * command cannot span the buckets' slots: the feed then polls.
     */
    connectBlocking?: () => RedisClient;
    followerQueue?: number;
  };
  /** How this pod sends webhooks (default: WEBHOOK_DEFAULTS). */
  webhooks?: WebhookSettings;
  /** Presigned artifact URLs in offers (default: off, devices download through a pod). */
  artifactPresign?: PresignConfig;
  /** Where and how deltas are made (default: the temp dir, level 19). */
  delta?: DeltaOptions;
}
