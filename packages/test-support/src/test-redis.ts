import { RedisServer } from './redis.js';
import { RedisClusterServer } from './redis-cluster.js';
import { RedisSentinelServer } from './redis-sentinel.js';
import type { RedisServerOptions, TestRedis, TestRedisMode } from './redis-types.js';

export type { TestRedis, TestRedisMode } from './redis-types.js';

const MODES: readonly TestRedisMode[] = ['single', 'cluster', 'sentinel'];

export interface TestRedisOptions extends RedisServerOptions {
  /** Overrides FLEET_TEST_REDIS, for suites that only make sense on one engine. */
  mode?: TestRedisMode;
}

function isMode(value: string): value is TestRedisMode {
  return (MODES as readonly string[]).includes(value);
}

/** The Redis a suite runs on: FLEET_TEST_REDIS=single (default) | cluster | sentinel. */
export function testRedisMode(): TestRedisMode {
  const value = process.env.FLEET_TEST_REDIS?.trim() ?? '';
  if (value === '') return 'single';
  if (isMode(value)) return value;
  throw new Error(
    `FLEET_TEST_REDIS must be one of ${MODES.join(', ')} (or unset for single); got '${value}'`,
  );
}

export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const { mode = testRedisMode(), ...redis } = options;
  switch (mode) {
    case 'single':
      return RedisServer.start(redis);
    case 'cluster':
      return RedisClusterServer.start(redis);
    case 'sentinel':
      return RedisSentinelServer.start(redis);
  }
}
