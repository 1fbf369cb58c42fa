import { parseArgs } from 'node:util';
import { FleetError } from '@camfleet/contracts';
import { connectRedis, describeTarget } from '@camfleet/redis';
import { ConfigError, loadRedisConfig } from './config.js';
import { BucketGrowth } from './fleet/bucket-growth.js';
import { createLogger } from './log.js';
import { KeySpace } from './redis/keys.js';

/**
 * The bucket growth job: `pnpm grow-buckets --to 256` (or the server image with this file as its
 * command, as a Kubernetes Job), with the pods' own Redis settings (REDIS_URL, FLEET_KEY_PREFIX, …).
 * Pods keep serving; run it again after it dies and it finishes what it began.
 * Exit codes: 0 done, 1 failed, 64 bad arguments (a count it cannot grow to), 78 configuration error.
 */
async function main(): Promise<void> {
  let target: number;
  try {
    const { values } = parseArgs({ options: { to: { type: 'string' } }, strict: true });
    target = Number(values.to);
    if (!Number.isInteger(target)) throw new Error('--to <bucket count> is required');
  } catch (error) {
    process.stderr.write(`grow-buckets: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(64);
  }
  let config: ReturnType<typeof loadRedisConfig>;
  try {
    config = loadRedisConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`grow-buckets: ${error.message}\n`);
    process.exit(78);
  }
  const log = createLogger(config.logLevel, { service: 'camfleet-grow-buckets' });
  log.info({ redis: describeTarget(config.redis), to: target }, 'growing the bucket count');
  const redis = connectRedis(config.redis, { name: 'camfleet:grow-buckets', waitOutOutages: true });
  try {
    const growth = new BucketGrowth({
      redis,
      keys: new KeySpace(config.keyPrefix),
      log,
      replicaWait: { replicas: config.redisWaitReplicas, timeoutMs: config.redisWaitTimeoutMs },
    });
    const done = await growth.run(target, (progress) => log.info(progress, 'progress'));
    log.info(done, 'done');
  } finally {
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`grow-buckets failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof FleetError && err.code === 'INVALID_INPUT' ? 64 : 1);
});
