import { FleetError, type FleetErrorCode, isFleetErrorCode } from '@camfleet/contracts';
import { mastersOf, type RedisClient } from '@camfleet/redis';
import type { Bucket, KeySpace } from './keys.js';
import { loadScriptSource } from './lua.js';
import type { ReplicatedWrites } from './replicated-writes.js';
import { callScript, type ScriptArg } from './script-calls.js';

export type { ScriptArg };

/**
 * One Lua transition, typed: how its input becomes KEYS and ARGV (in the order its header lists),
 * and how its reply becomes a value. The wrappers live in `scripts/`, one per `lua/<name>.lua`.
 */
export interface Script<Input, Reply> {
  /** The file in `lua/` (without `.lua`), and the command name on the connection. */
  readonly name: string;
  readonly numberOfKeys: number;
  /** KEYS then ARGV. */
  args(input: Input, keys: KeySpace): ScriptArg[];
  decode(reply: unknown, input: Input): Reply;
}

export function defineScript<Input, Reply>(script: Script<Input, Reply>): Script<Input, Reply> {
  return script;
}

/** The input of a bucket script: the bucket it runs in (KEYS[1] its due set, ARGV[1] its prefix). */
export interface InBucket {
  bucket: Bucket;
}

/**
 * A script that runs in one bucket. `argv` is what follows the prefix: ARGV[2] onwards.
 */
export function bucketScript<Input extends InBucket, Reply>(script: {
  name: string;
  argv(input: Input): ScriptArg[];
  decode(reply: unknown, input: Input): Reply;
}): Script<Input, Reply> {
  return {
    name: script.name,
    numberOfKeys: 1,
    args: (input) => [input.bucket.due, input.bucket.prefix, ...script.argv(input)],
    decode: script.decode,
  };
}

/** A script whose KEYS are fleet-wide keys named by `keys` (in its header's order). */
export function globalScript<Input, Reply>(script: {
  name: string;
  keys(input: Input, keys: KeySpace): string[];
  argv(input: Input): ScriptArg[];
  decode(reply: unknown, input: Input): Reply;
  numberOfKeys: number;
}): Script<Input, Reply> {
  return {
    name: script.name,
    numberOfKeys: script.numberOfKeys,
    args: (input, keys) => [...script.keys(input, keys), ...script.argv(input)],
    decode: script.decode,
  };
}

/**
 * A reply of the form {'OK', ...values} or {'ERR', code, message}: the values, or the error thrown
 * as a FleetError whose message starts with `context`.
 */
export function okValues(reply: unknown, context: string): unknown[] {
  if (!Array.isArray(reply) || reply.length === 0)
    throw new Error(`unexpected script reply: ${String(reply)}`);
  if (reply[0] === 'ERR') {
    const code: FleetErrorCode = isFleetErrorCode(reply[1]) ? reply[1] : 'CONFLICT';
    throw new FleetError(code, `${context}: ${String(reply[2])}`);
  }
  return reply.slice(1);
}

/** An array reply (a script's list of ids, or of per-device replies). */
export function list(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected script reply: ${String(reply)}`);
  return reply;
}

export const str = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
export const num = (value: unknown): number => Number(value ?? 0);
export const flag = (value: unknown): boolean => Number(value) === 1;
/** Pairs [a1, b1, a2, b2, …] of a flat reply. */
export function pairs(values: unknown[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < values.length; i += 2) out.push([str(values[i]), str(values[i + 1])]);
  return out;
}

/**
 * Answers that mean the script did not run: its slot is being moved to another node, or its bucket
 * split (`slot_guard.lua` answers MOVING; a pipeline may pass on an ASK, MOVED or TRYAGAIN that the
 * client did not follow), and the client's own retries of them ran out.
 */
const SCRIPT_NOT_RUN = /^(MOVING|TRYAGAIN|ASK|MOVED) |^Too many Cluster redirections/;
/** How long a call waits for its slot to finish moving: redis-cli moves a bucket's keys in seconds. */
const SLOT_MOVE_PATIENCE_MS = 60_000;

/**
 * The call, repeated (with backoff) while Redis answers that it did not run it because its slot, or
 * its bucket (a split: slot_guard.lua), moves.
 */
async function whileSlotMoves<T>(call: (again: boolean) => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + SLOT_MOVE_PATIENCE_MS;
  for (let delayMs = 50, again = false; ; delayMs = Math.min(delayMs * 2, 1_000), again = true) {
    try {
      return await call(again);
    } catch (error) {
      const notRun = error instanceof Error && SCRIPT_NOT_RUN.test(error.message);
      if (!notRun || Date.now() + delayMs > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Receives the latency of each script call run on a connection (pipelined calls are not timed). */
export type ScriptObserver = (name: string, seconds: number) => void;

/**
 * Runs typed scripts on one connection: `run` for a single call, `runDurable` for a transition that
 * must survive a failover, `runInEveryBucket` for a bucket script in every bucket.
 */
export class Scripts {
  constructor(
    readonly redis: RedisClient,
    readonly keys: KeySpace,
    /** Where transitions that must survive a failover go (FLEET_REDIS_WAIT_REPLICAS > 0). */
    private readonly replicated: ReplicatedWrites | null = null,
    private readonly observe: ScriptObserver | null = null,
  ) {}

  async run<Input, Reply>(script: Script<Input, Reply>, input: Input): Promise<Reply> {
    const started = this.observe ? performance.now() : 0;
    try {
      return await whileSlotMoves(async (again) => {
        const current = again ? this.rebucketed(input) : input;
        return script.decode(
          await callScript(this.redis, script.name, script.args(current, this.keys)),
          current,
        );
      });
    } finally {
      this.observe?.(script.name, (performance.now() - started) / 1000);
    }
  }

  /**
   * A transition that must not be lost in a failover (a delivery's outcome, a new rollout or patch):
   * acknowledged once replicas hold it when FLEET_REDIS_WAIT_REPLICAS asks for that.
   */
  async runDurable<Input, Reply>(script: Script<Input, Reply>, input: Input): Promise<Reply> {
    const replicated = this.replicated;
    if (!replicated) return this.run(script, input);
    return whileSlotMoves(async (again) => {
      const current = again ? this.rebucketed(input) : input;
      return script.decode(await replicated.run(script.name, script.args(current, this.keys)), current);
    });
  }

  /**
   * A device's script input with its bucket as the layout says now: a call refused while a bucket
   * split is repeated in the bucket the device moved to (the first try goes as the caller placed it).
   */
  private rebucketed<Input>(input: Input): Input {
    if (typeof input !== 'object' || input === null || !('bucket' in input) || !('deviceId' in input))
      return input;
    const { deviceId } = input;
    return typeof deviceId === 'string' ? { ...input, bucket: this.keys.bucketOfDevice(deviceId) } : input;
  }

  /** One call per bucket, which auto-pipelining sends each master in one round trip. */
  runInEveryBucket<Input extends InBucket, Reply>(
    script: Script<Input, Reply>,
    input: Omit<Input, 'bucket'>,
  ): Promise<Reply[]> {
    return Promise.all(this.keys.allBuckets.map((bucket) => this.run(script, { ...input, bucket } as Input)));
  }
}

/** Registers scripts on a connection (ioredis EVALSHA, falling back to EVAL after NOSCRIPT). */
export function defineScripts(redis: RedisClient, scripts: readonly Script<never, unknown>[]): void {
  for (const script of scripts) {
    redis.defineCommand(script.name, {
      numberOfKeys: script.numberOfKeys,
      lua: loadScriptSource(script.name),
    });
  }
}

/**
 * Loads scripts into the script cache of every master: a script that does not compile fails the
 * pod at boot, not on the first device. (After a Redis restart or a failover to a replica without
 * them, ioredis falls back to EVAL by itself.)
 */
export async function preloadScripts(
  redis: RedisClient,
  scripts: readonly Script<never, unknown>[],
): Promise<void> {
  await redis.ping(); // a cluster client knows its masters once it has the slot map
  const sources = scripts.map((script) => loadScriptSource(script.name));
  await Promise.all(
    mastersOf(redis).flatMap((master) => sources.map((source) => master.script('LOAD', source))),
  );
}
