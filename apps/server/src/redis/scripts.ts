import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mastersOf, type RedisClient } from '@camfleet/redis';
import type { ChainableCommander } from 'ioredis';
import { ALL_BUCKETS, type KeySpace } from './keys.js';

const LUA_DIR = join(import.meta.dirname, 'lua');

/** Each transition script and how many KEYS it takes (bucket scripts take their due set). */
export const SCRIPT_KEYS = {
  device_register: 1,
  device_disconnect: 1,
  device_reconcile: 1,
  node_gone: 1,
  offer_claim: 1,
  offer_claim_many: 1,
  delivery_report: 1,
  deadline_sweep: 1,
  delivery_park: 1,
  rollout_attach: 1,
  rollout_sync_bucket: 1,
  patch_publish: 3,
  patch_delete: 4,
  rollout_create: 7,
  legacy_import: 10,
  rollout_transition: 4,
  slot_acquire: 3,
  slot_release: 3,
  eval_claim: 1,
  device_credential: 1,
  token_state: 1,
  token_revoke: 1,
  node_heartbeat: 1,
  node_reap: 1,
} as const;
export type ScriptName = keyof typeof SCRIPT_KEYS;

/** Script source with `-- @include name` lines replaced by includes/name.lua. */
export function loadScriptSource(name: string): string {
  const source = readFileSync(join(LUA_DIR, `${name}.lua`), 'utf8');
  return source.replace(/^-- @include (\w+)$/gm, (_, include: string) =>
    readFileSync(join(LUA_DIR, 'includes', `${include}.lua`), 'utf8'),
  );
}

/** Every .lua file (not includes) must be listed above; a forgotten one fails loudly. */
function checkScriptList(): void {
  const files = readdirSync(LUA_DIR)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -4));
  const missing = files.filter((f) => !(f in SCRIPT_KEYS));
  if (missing.length > 0) throw new Error(`Lua scripts not registered: ${missing.join(', ')}`);
}

export type ScriptArg = string | number;
type ScriptCall = (...args: ScriptArg[]) => Promise<unknown>;
type PipelineScriptCall = (...args: ScriptArg[]) => ChainableCommander;

/** Registers every script on a connection (ioredis EVALSHA, falling back to EVAL after NOSCRIPT). */
export function defineScripts(redis: RedisClient): void {
  checkScriptList();
  for (const [name, numberOfKeys] of Object.entries(SCRIPT_KEYS)) {
    redis.defineCommand(name, { numberOfKeys, lua: loadScriptSource(name) });
  }
}

/**
 * Loads every script into the script cache of every master: a script that does not compile fails
 * the pod at boot, not on the first device. (After a Redis restart or a failover to a replica
 * without them, ioredis falls back to EVAL by itself.)
 */
export async function preloadScripts(redis: RedisClient): Promise<void> {
  await redis.ping(); // a cluster client knows its masters once it has the slot map
  const sources = Object.keys(SCRIPT_KEYS).map(loadScriptSource);
  await Promise.all(
    mastersOf(redis).flatMap((master) => sources.map((source) => master.script('LOAD', source))),
  );
}

/** Receives the latency of each script call made with `runScript` on a connection. */
export type ScriptObserver = (name: ScriptName, seconds: number) => void;

// Per connection, so pods in one process (tests) each time only their own calls.
const observers = new WeakMap<RedisClient, ScriptObserver>();

/** Times every `runScript` call on this connection (pipelined `queueScript` calls are not timed). */
export function observeScripts(redis: RedisClient, observer: ScriptObserver): void {
  observers.set(redis, observer);
}

/** Runs a defined script: KEYS first, then ARGV. */
export function runScript(redis: RedisClient, name: ScriptName, ...args: ScriptArg[]): Promise<unknown> {
  const call = (redis as unknown as Record<ScriptName, ScriptCall>)[name];
  const observer = observers.get(redis);
  if (!observer) return call.apply(redis, args);
  const started = performance.now();
  const reply = call.apply(redis, args);
  const done = () => observer(name, (performance.now() - started) / 1000);
  reply.then(done, done);
  return reply;
}

/**
 * Runs a bucket script once in every bucket (KEYS[1] the bucket's due set, ARGV[1] its prefix, then
 * `args`): one call per bucket, which auto-pipelining sends each master in one round trip.
 */
export function runInEveryBucket(
  redis: RedisClient,
  keys: KeySpace,
  name: ScriptName,
  ...args: ScriptArg[]
): Promise<unknown[]> {
  return Promise.all(
    ALL_BUCKETS.map((n) => {
      const bucket = keys.bucket(n);
      return runScript(redis, name, keys.due(bucket), bucket, ...args);
    }),
  );
}

/** Queues a defined script on a pipeline. */
export function queueScript(pipeline: ChainableCommander, name: ScriptName, ...args: ScriptArg[]): void {
  const call = (pipeline as unknown as Record<ScriptName, PipelineScriptCall>)[name];
  call.apply(pipeline, args);
}

/** Scripts answer {'OK', ...} or {'ERR', code, message}. */
export type ScriptReply = { ok: true; values: unknown[] } | { ok: false; code: string; message: string };

export function parseReply(reply: unknown): ScriptReply {
  if (!Array.isArray(reply) || reply.length === 0)
    throw new Error(`unexpected script reply: ${String(reply)}`);
  if (reply[0] === 'ERR') return { ok: false, code: String(reply[1]), message: String(reply[2]) };
  return { ok: true, values: reply.slice(1) };
}
