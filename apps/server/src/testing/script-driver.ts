import { type CreateRolloutInput, CreateRolloutInput as CreateRolloutSchema } from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import { connectTestRedis, startTestRedis, type TestRedis } from '@camfleet/test-support';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { RedisFleetService } from '../fleet/redis-fleet.js';
import { Metrics } from '../metrics.js';
import { KeySpace } from '../redis/keys.js';
import { defineScripts, parseReply, runScript } from '../redis/scripts.js';

export const GRACE_MS = 3_000;

/**
 * Drives the Lua transitions directly against a real Redis, the way pods do, for script-level
 * tests. Each driver is one connection: two drivers race like two pods.
 */
export class ScriptDriver {
  readonly redis: RedisClient;
  readonly keys: KeySpace;
  readonly fleet: RedisFleetService;

  constructor(
    url: string,
    prefix = 't',
    readonly instance = 'pod-a',
  ) {
    this.redis = connectTestRedis(url);
    defineScripts(this.redis);
    this.keys = new KeySpace(prefix);
    this.fleet = new RedisFleetService({
      redis: this.redis,
      keys: this.keys,
      instance,
      log: pino({ level: 'silent' }),
      hintGraceMs: GRACE_MS,
      metrics: new Metrics(),
    });
  }

  private bucket(deviceId: string): [string, string] {
    const bucket = this.keys.bucketOfDevice(deviceId);
    return [this.keys.due(bucket), bucket];
  }

  register(
    deviceId: string,
    options: {
      online?: boolean;
      conn?: string;
      firmware?: string;
      labels?: Record<string, string>;
      model?: string;
    } = {},
  ) {
    const online = options.online ?? true;
    return runScript(
      this.redis,
      'device_register',
      ...this.bucket(deviceId),
      deviceId,
      options.model ?? 'cam-x',
      options.firmware ?? '1.0.0',
      JSON.stringify(options.labels ?? {}),
      online ? this.instance : '',
      online ? (options.conn ?? `conn-${deviceId}`) : '',
      GRACE_MS,
    ) as Promise<[number, number, number, string, number, string, string, string]>;
  }

  disconnect(deviceId: string, conn = `conn-${deviceId}`) {
    return runScript(this.redis, 'device_disconnect', ...this.bucket(deviceId), deviceId, conn, GRACE_MS);
  }

  /** offer_claim: null for nothing, `{ slot }` when a limited rollout needs a slot, or the offer. */
  async claim(
    deviceId: string,
    grant = '',
    conn = '',
  ): Promise<{
    rolloutId: string;
    attempt: number;
    deadline: number;
    cancel?: boolean;
    slot?: string;
  } | null> {
    const reply = (await runScript(
      this.redis,
      'offer_claim',
      ...this.bucket(deviceId),
      deviceId,
      GRACE_MS,
      grant,
      conn,
    )) as [string, string, number, number];
    const [kind, rolloutId, attempt, deadline] = reply;
    if (kind === 'NONE') return null;
    if (kind === 'SLOT') return { rolloutId, attempt: 0, deadline: 0, slot: rolloutId };
    if (kind === 'CANCEL') return { rolloutId, attempt, deadline: 0, cancel: true };
    return { rolloutId, attempt, deadline };
  }

  /** delivery_report; `succeeded` claims to run the rollout's version unless told otherwise. */
  async report(
    deviceId: string,
    rolloutId: string,
    attempt: number,
    status: string,
    error = '',
    running?: string,
  ) {
    const bucket = this.keys.bucketOfDevice(deviceId);
    const version =
      running ?? (status === 'succeeded' ? await this.redis.hget(`${bucket}ro:${rolloutId}`, 'version') : '');
    return parseReply(
      await runScript(
        this.redis,
        'delivery_report',
        ...this.bucket(deviceId),
        deviceId,
        rolloutId,
        attempt,
        status,
        error,
        GRACE_MS,
        version ?? '',
      ),
    );
  }

  /** One sweep pass over the device's bucket: the (device, pod) pairs it asks to hint. */
  async sweep(deviceId: string, limit = 1000): Promise<string[]> {
    const [hints] = (await runScript(
      this.redis,
      'deadline_sweep',
      ...this.bucket(deviceId),
      limit,
      GRACE_MS,
    )) as [string[]];
    return hints;
  }

  async publish(version = `1.${Math.random().toString(36).slice(2, 8)}`) {
    return this.fleet.publishPatch({ name: 'fw', version, notes: '' }, 'test');
  }

  async rollout(patchId: string, settings: Partial<CreateRolloutInput> = {}) {
    return this.fleet.createRollout(CreateRolloutSchema.parse({ patchId, ...settings }), 'test');
  }

  delivery(rolloutId: string, deviceId: string) {
    return this.redis.hgetall(this.keys.delivery(rolloutId, deviceId));
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}

/**
 * For a test file: one private redis-server, and before each test a fresh driver with its own
 * key prefix (no state leaks between tests, no FLUSHALL). Read the driver through the getter.
 */
export function scriptDriverPerTest(prefix: string): { pod: () => ScriptDriver; server: () => TestRedis } {
  let server: TestRedis | undefined;
  let pod: ScriptDriver | undefined;
  let counter = 0;
  beforeAll(async () => {
    server = await startTestRedis();
  });
  afterAll(async () => {
    await pod?.close();
    await server?.destroy();
  });
  beforeEach(async () => {
    await pod?.close();
    pod = new ScriptDriver(server!.url, `${prefix}${++counter}`);
  });
  return { pod: () => pod!, server: () => server! };
}
