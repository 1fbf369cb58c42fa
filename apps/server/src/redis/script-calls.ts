import type { RedisClient } from '@camfleet/redis';
import type { ChainableCommander } from 'ioredis';

/** What scripts take as KEYS and ARGV. */
export type ScriptArg = string | number;

type ScriptCall = (...args: ScriptArg[]) => Promise<unknown>;

/** Calls a defined script by name: KEYS first, then ARGV. */
export function callScript(redis: RedisClient, name: string, args: ScriptArg[]): Promise<unknown> {
  const call = (redis as unknown as Record<string, ScriptCall>)[name];
  if (!call) throw new Error(`script ${name} is not defined on this connection`);
  return call.apply(redis, args);
}

/** Queues a defined script by name on a pipeline. */
export function queueScript(pipeline: ChainableCommander, name: string, args: ScriptArg[]): void {
  const call = (pipeline as unknown as Record<string, (...a: ScriptArg[]) => ChainableCommander>)[name];
  if (!call) throw new Error(`script ${name} is not defined on this pipeline`);
  call.apply(pipeline, args);
}
