/**
 * What every private test Redis is, whatever engine runs it: the shared types of the launchers
 * (redis.ts, redis-cluster.ts, redis-sentinel.ts) and of test-redis.ts, which picks one. Kept in a
 * file of their own so no launcher imports another's module for a type.
 */

export type TestRedisMode = 'single' | 'cluster' | 'sentinel';

/**
 * A private Redis for one suite. `url` is what pods take as REDIS_URL (redis://, redis+cluster://,
 * redis+sentinel://); the rest means the same in every mode.
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

export interface RedisServerOptions {
  /** Append-only file on (everysec), as production runs it. */
  appendOnly?: boolean;
  /** Allow DEBUG from loopback (tests compare DEBUG DIGEST before and after bad input). */
  enableDebug?: boolean;
}

/** A master killed and its replica promoted. */
export interface Failover {
  killedPort: number;
  promotedPort: number;
  /** From the SIGKILL until clients can use the promoted node (to within one poll, ~100 ms). */
  failoverMs: number;
}
