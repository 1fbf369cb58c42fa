import { RedisServer, type RedisServerOptions } from './redis.js';
import { RedisClusterServer } from './redis-cluster.js';
import { RedisSentinelServer } from './redis-sentinel.js';

export type TestRedisMode = 'single' | 'cluster' | 'sentinel';

const MODES: readonly TestRedisMode[] = ['single', 'cluster', 'sentinel'];

/**
 * A private Redis for one suite, whatever engine runs it. `url` is what pods take as REDIS_URL
 * (redis://, redis+cluster://, redis+sentinel://); the rest means the same in every mode.
 */
export interface TestRedis {
  readonly mode: TestRedisMode;
  readonly url: string;
  /** SIGTERM: a clean shutdown (the AOF is flushed); SIGKILL: a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Same ports, same directories: a restarted pod with its persistent volume. Resolves once it serves. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** Every data node stalls (SIGSTOP) for `ms`, then runs on. */
  pause(ms: number): Promise<void>;
  /** Kills every process and removes every directory. */
  destroy(): Promise<void>;
}

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
