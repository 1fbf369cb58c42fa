import { randomBytes } from 'node:crypto';
import { FleetError, type FleetErrorCode, isFleetErrorCode } from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { KeySpace } from '../redis/keys.js';
import type { ReplicatedWrites } from '../redis/replicated-writes.js';
import { runScript, type ScriptArg, type ScriptName, type ScriptReply } from '../redis/scripts.js';

/** What every part of the Redis fleet shares. */
export interface FleetDeps {
  redis: RedisClient;
  keys: KeySpace;
  /** This pod instance (node id + boot id): what presence and hints name. */
  instance: string;
  log: Logger;
  /** How long an offerable device may wait for its pod before the sweeper hints again. */
  hintGraceMs: number;
  /** This pod's metrics (its own registry). */
  metrics: Metrics;
  /** Where the transitions that must survive a failover go (FLEET_REDIS_WAIT_REPLICAS > 0). */
  replicated?: ReplicatedWrites;
}

/**
 * Runs a transition that must not be lost in a failover (a delivery's outcome, a new rollout or
 * patch): acknowledged once replicas hold it when FLEET_REDIS_WAIT_REPLICAS asks for that.
 */
export function runDurable(deps: FleetDeps, name: ScriptName, ...args: ScriptArg[]): Promise<unknown> {
  return deps.replicated ? deps.replicated.run(name, ...args) : runScript(deps.redis, name, ...args);
}

/** A script's values, or its {'ERR', code, message} reply as a FleetError. */
export function unwrap(reply: ScriptReply, context: string): unknown[] {
  if (reply.ok) return reply.values;
  const code: FleetErrorCode = isFleetErrorCode(reply.code) ? reply.code : 'CONFLICT';
  throw new FleetError(code, `${context}: ${reply.message}`);
}

/** Pipeline results without their error slots; the first error is thrown. */
export function throwPipelineErrors(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('pipeline discarded');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** A random lowercase id suffix (80 bits). */
export const randomId = (): string => randomBytes(10).toString('hex');

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

/**
 * Reads `read()` every `intervalMs` and yields it when its fingerprint changed (the first read
 * always): subscribers get pushes on change, and one read serves each tick, not each client poll.
 */
export async function* whenChanged<T>(
  read: () => Promise<T>,
  fingerprint: (value: T) => string,
  intervalMs: number,
  signal: AbortSignal,
): AsyncGenerator<T> {
  let last: string | null = null;
  while (!signal.aborted) {
    const value = await read();
    const current = fingerprint(value);
    if (current !== last) {
      last = current;
      yield value;
    }
    await sleep(intervalMs, signal);
  }
}
