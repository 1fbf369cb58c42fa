import {
  type CreateRolloutInput,
  CreateRolloutInput as CreateRolloutSchema,
  FleetError,
  type FleetEvent,
  type ReportInput,
  type RolloutStatus,
} from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import { connectTestRedis, waitFor } from '@camfleet/test-support';
import { pino } from 'pino';
import { RedisFleet } from '../fleet/fleet.js';
import { HintBus } from '../fleet/hints.js';
import { deliveryIdOf } from '../fleet/ids.js';
import { archivedRecords } from '../fleet/records.js';
import { Metrics } from '../metrics.js';
import { KeySpace } from '../redis/keys.js';
import { defineScripts, Scripts } from '../redis/script.js';
import {
  ALL_SCRIPTS,
  deadlineSweep,
  deliveryReport,
  deviceDisconnect,
  deviceRegister,
  offerClaim,
  offerClaimMany,
  type RelayedOffers,
} from '../redis/scripts/index.js';

export const GRACE_MS = 3_000;

/** What offer_claim answered, as script tests read it: null for nothing. */
export type ClaimSeen = {
  rolloutId: string;
  attempt: number;
  deadline: number;
  cancel?: boolean;
  slot?: string;
  /** An offer's delta for the version the device runs (JSON), or ''. */
  delta?: string;
} | null;

/** How long a driver holds a bucket it attaches: a test waits this long for a takeover. */
export const ATTACH_LEASE_MS = 500;

/**
 * Drives the Lua transitions directly against a real Redis, the way pods do, for script-level
 * tests. Each driver is one connection: two drivers race like two pods.
 */
export class ScriptDriver {
  readonly redis: RedisClient;
  /** Offers relayed to this instance (made by rollout_attach for its devices' connections), in order. */
  readonly relayed: RelayedOffers[] = [];
  readonly keys: KeySpace;
  readonly scripts: Scripts;
  readonly fleet: RedisFleet;

  constructor(
    url: string,
    prefix = 't',
    readonly instance = 'pod-a',
  ) {
    this.redis = connectTestRedis(url);
    defineScripts(this.redis, ALL_SCRIPTS);
    this.keys = new KeySpace(prefix);
    this.scripts = new Scripts(this.redis, this.keys);
    const metrics = new Metrics();
    // Hints go nowhere (no pod listens): script tests look at Redis, not at pushes. Offers an
    // attach made for this instance's connections are kept (`relayed`).
    const hints = new HintBus(this.redis, this.redis, this.keys, instance, metrics, {
      devices: () => undefined,
      offers: (offers) => this.relayed.push(...offers),
      broadcast: () => undefined,
      capacity: () => undefined,
      kick: () => undefined,
      drop: () => undefined,
      reassert: () => undefined,
    });
    this.fleet = new RedisFleet(
      {
        redis: this.redis,
        keys: this.keys,
        scripts: this.scripts,
        instance,
        log: pino({ level: 'silent' }),
        hintGraceMs: GRACE_MS,
        attachLeaseMs: ATTACH_LEASE_MS,
        metrics,
      },
      hints,
      null,
    );
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
    return this.scripts.run(deviceRegister, {
      bucket: this.keys.bucketOfDevice(deviceId),
      deviceId,
      model: options.model ?? 'cam-x',
      firmwareVersion: options.firmware ?? '1.0.0',
      labels: options.labels ?? {},
      instance: online ? this.instance : '',
      connectionId: online ? (options.conn ?? `conn-${deviceId}`) : '',
      graceMs: GRACE_MS,
    });
  }

  disconnect(deviceId: string, conn = `conn-${deviceId}`) {
    return this.scripts.run(deviceDisconnect, {
      bucket: this.keys.bucketOfDevice(deviceId),
      deviceId,
      connectionId: conn,
      graceMs: GRACE_MS,
    });
  }

  /** offer_claim: null for nothing, `{ slot }` when a limited rollout needs a slot, or the offer. */
  async claim(deviceId: string, grant = '', conn = ''): Promise<ClaimSeen> {
    const reply = await this.scripts.run(offerClaim, {
      bucket: this.keys.bucketOfDevice(deviceId),
      deviceId,
      graceMs: GRACE_MS,
      grant,
      connectionId: conn,
    });
    switch (reply.kind) {
      case 'none':
        return null;
      case 'slot':
        return { rolloutId: reply.rolloutId, attempt: 0, deadline: 0, slot: reply.rolloutId };
      case 'cancel':
        return { rolloutId: reply.rolloutId, attempt: reply.attempt, deadline: 0, cancel: true };
      case 'offer':
        return {
          rolloutId: reply.rolloutId,
          attempt: reply.attempt,
          deadline: reply.deadlineAt,
          delta: reply.patch.delta,
        };
    }
  }

  /**
   * offer_claim_many, as a pod claims a fan-out: one call per bucket for the devices of that bucket
   * (each claimed for its connection `conn-<id>`, register's default). Returns how many got an offer.
   */
  async claimMany(deviceIds: readonly string[]): Promise<number> {
    const byBucket = new Map<number, string[]>();
    for (const id of deviceIds) {
      const n = this.keys.bucketOfDevice(id).n;
      byBucket.set(n, [...(byBucket.get(n) ?? []), id]);
    }
    const replies = await Promise.all(
      [...byBucket.values()].map((ids) =>
        this.scripts.run(offerClaimMany, {
          bucket: this.keys.bucketOfDevice(ids[0] ?? ''),
          graceMs: GRACE_MS,
          sessions: ids.map((id) => ({ deviceId: id, connectionId: `conn-${id}` })),
        }),
      ),
    );
    return replies.flat().filter((reply) => reply.kind === 'offer').length;
  }

  /**
   * delivery_report; `succeeded` claims to run the rollout's version unless told otherwise. The
   * decoded reply, or the code and message of the script's refusal (stale, finished, …).
   */
  async report(
    deviceId: string,
    rolloutId: string,
    attempt: number,
    status: ReportInput['status'],
    error = '',
    running?: string,
    fromDelta = false,
  ) {
    const bucket = this.keys.bucketOfDevice(deviceId);
    const version =
      running ??
      (status === 'succeeded' ? await this.redis.hget(bucket.key('rollout', rolloutId), 'version') : '');
    const reply = this.scripts.run(deliveryReport, {
      bucket,
      deviceId,
      rolloutId,
      report: {
        deliveryId: deliveryIdOf(rolloutId, deviceId),
        attempt,
        status,
        ...(error ? { error } : {}),
        ...(version ? { firmwareVersion: version } : {}),
        ...(fromDelta ? { delta: true } : {}),
      } as ReportInput,
      graceMs: GRACE_MS,
    });
    return reply.then(
      (accepted) => ({ ok: true as const, ...accepted }),
      (error: unknown) => {
        if (!(error instanceof FleetError)) throw error;
        return { ok: false as const, code: error.code, message: error.message };
      },
    );
  }

  /** One sweep pass over the device's bucket: the devices it asks to hint, with the pod holding each. */
  async sweep(deviceId: string, limit = 1000): Promise<{ deviceId: string; instance: string }[]> {
    const { hints } = await this.scripts.run(deadlineSweep, {
      bucket: this.keys.bucketOfDevice(deviceId),
      limit,
      graceMs: GRACE_MS,
    });
    return hints;
  }

  /**
   * Two devices with sessions on this pod and a rollout with one in-flight slot: `a` is offered it,
   * `b` is parked waiting for it.
   */
  async oneSlotTwoDevices() {
    await this.register('a');
    await this.register('b');
    const rollout = await this.rollout((await this.publish()).id, { maxInFlight: 1 });
    const { sessions, claims } = this.fleet;
    sessions.open('a', 'conn-a', null);
    sessions.open('b', 'conn-b', null);
    const outcomes = [await claims.evaluate('a'), await claims.evaluate('b')];
    if (outcomes.join() !== 'offered,blocked')
      throw new Error(`expected a offered, b blocked; got ${outcomes.join()}`);
    return { rollout };
  }

  async publish(version = `1.${Math.random().toString(36).slice(2, 8)}`) {
    return this.fleet.patches.publish({ name: 'fw', version, notes: '' }, 'test');
  }

  /** Creates a rollout and answers its status once its background attach reached every bucket. */
  async rollout(patchId: string, settings: Partial<CreateRolloutInput> = {}) {
    const created = await this.fleet.rollouts.create(
      CreateRolloutSchema.parse({ patchId, ...settings }),
      'test',
    );
    return this.attached(created.id);
  }

  /** The rollout's status once its attach reached every bucket (this pod helping). */
  async attached(rolloutId: string, timeoutMs = 30_000): Promise<RolloutStatus> {
    return waitFor(
      async () => {
        // What a pod's background loop does: buckets whose lease ran out are taken over.
        await this.fleet.attacher.kick();
        const status = await this.fleet.rollouts.get(rolloutId);
        return status.attach === null ? status : null;
      },
      { what: `rollout ${rolloutId} attached`, timeoutMs },
    );
  }

  /** Attaches the rollout again in every bucket, as pods taking over a dead pod's buckets would. */
  async reattach(rolloutId: string): Promise<RolloutStatus> {
    await this.redis
      .multi()
      .sadd(this.keys.attaching, rolloutId)
      .hdel(this.keys.rollout(rolloutId), 'attachedAt')
      .exec();
    return this.attached(rolloutId);
  }

  /**
   * Follows the event stream (from now, or after `after`) into `seen` until `stop()`, which
   * resolves once the follower has left.
   */
  followEvents(options: { rolloutId?: string; after?: string } = {}) {
    const controller = new AbortController();
    const seen: FleetEvent[] = [];
    const following = (async () => {
      for await (const event of this.fleet.events.follow({
        rolloutId: options.rolloutId ?? null,
        after: options.after ?? null,
        signal: controller.signal,
      }))
        seen.push(event);
    })();
    return {
      seen,
      stop: async () => {
        controller.abort();
        await following;
      },
    };
  }

  /** A delivery's record; a finished one as compaction left it (no wave, no deadline). */
  async delivery(rolloutId: string, deviceId: string): Promise<Record<string, string>> {
    const record = await this.redis.hgetall(this.keys.delivery(rolloutId, deviceId));
    if (record.rid) return record;
    const archive = await this.redis.get(this.keys.bucketOfDevice(deviceId).key('archive', deviceId));
    return archivedRecords(archive, deviceId).get(rolloutId) ?? record;
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
