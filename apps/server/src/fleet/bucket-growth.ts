import { FleetError } from '@camfleet/contracts';
import { mastersOf, type RedisClient } from '@camfleet/redis';
import type { Logger } from 'pino';
import { deviceHash } from '../redis/bucket-layout.js';
import type { Bucket, KeySpace } from '../redis/keys.js';
import { readLayout } from './layout.js';

export interface GrowthDeps {
  redis: RedisClient;
  keys: KeySpace;
  log: Logger;
  /** FLEET_REDIS_WAIT_REPLICAS: the copies must be on replicas before the layout points at them. */
  replicaWait?: { replicas: number; timeoutMs: number };
}

/** How far a growth has come. */
export interface GrowthProgress {
  count: number;
  target: number;
  /** Buckets (of `count`) split so far. */
  split: number;
  /** Devices moved by this run. */
  movedDevices: number;
}

/** Devices copied per round trip. */
const COPY_BATCH = 100;
/** How often the job looks whether every live pod follows the new layout. */
const ADOPTION_POLL_MS = 20;
/** How long a split waits for rollouts being attached before it tries again. */
const ATTACH_WAIT_MS = 250;
/** Only one growth job at a time: a lease it renews while it runs. */
const LOCK_MS = 5_000;

/**
 * Grows the bucket count of a live fleet (`pnpm grow-buckets --to 256`: a one-off job, resumable by
 * running it again). Bucket by bucket, the devices whose bucket number changes are copied to their
 * new bucket while both are fenced (every script in them answers MOVING and the pods repeat it),
 * the layout names the bucket split, the job waits until every live pod follows that, and only then
 * are the moved devices removed from the old bucket and the fences lifted. A bucket's rollout
 * counters stay where they were counted: rollout figures are sums over all buckets. A job that dies
 * leaves the bucket it was splitting fenced and named (`splitting`); the next run finishes it.
 */
export class BucketGrowth {
  private movedDevices = 0;

  constructor(private readonly deps: GrowthDeps) {}

  /** Records the target (or finds the same one under way), then splits every bucket left. */
  async run(
    target: number,
    onProgress: (progress: GrowthProgress) => void = () => {},
  ): Promise<GrowthProgress> {
    const { redis, keys } = this.deps;
    const lock = `${keys.bucketLayout}:job`;
    const token = `${process.pid}.${Date.now()}`;
    // A job that died holds the lock until its lease ends: a new run waits that long, no more.
    while ((await redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
      this.deps.log.info({ endsInMs: await redis.pttl(lock) }, 'another growth job holds the lock; waiting');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    // Renewed while it is still this run's; a run that stalled past its lease and lost the lock to
    // another stops at its next step.
    let lost = false;
    const renew = setInterval(() => {
      void redis.get(lock).then(async (holder) => {
        if (holder === token) await redis.set(lock, token, 'PX', LOCK_MS);
        else lost = true;
      });
    }, LOCK_MS / 3);
    try {
      await this.begin(target);
      for (;;) {
        if (lost) throw new Error('another growth job took the lock while this one stalled; it goes on');
        const state = await this.followStored();
        const progress = {
          count: state.count,
          target: state.target ?? state.count,
          split: state.split.size,
          movedDevices: this.movedDevices,
        };
        onProgress(progress);
        if (state.target === null) return progress;
        // A bucket a run left half-split first, then the next one not split.
        const splitting = await redis.hget(keys.bucketLayout, 'splitting');
        const next =
          splitting !== null
            ? Number(splitting)
            : Array.from({ length: state.count }, (_, b) => b).find((b) => !state.split.has(b));
        if (next === undefined) await this.complete();
        else await this.split(next, state.count, state.target);
      }
    } finally {
      clearInterval(renew);
      if ((await redis.get(lock)) === token) await redis.del(lock);
    }
  }

  private async begin(target: number): Promise<void> {
    const { redis, keys } = this.deps;
    const state = await this.followStored();
    if (state.target === target) return; // resuming
    const refused = keys.layout.refuseGrowth(target);
    if (refused) throw new FleetError('INVALID_INPUT', refused);
    await redis
      .multi()
      .hset(keys.bucketLayout, 'count', state.count, 'target', target)
      .hincrby(keys.bucketLayout, 'version', 1)
      .exec();
    this.deps.log.info({ from: state.count, to: target }, 'bucket growth started');
  }

  /** The stored layout, followed by this job's key space too (its buckets span the target). */
  private async followStored() {
    const state = await readLayout(this.deps.redis, this.deps.keys);
    this.deps.keys.follow(state);
    return state;
  }

  /** Splits old bucket `b` into b, b + count, b + 2·count, … */
  private async split(b: number, count: number, target: number): Promise<void> {
    const { redis, keys, log } = this.deps;
    const source = keys.bucket(b);
    const children = Array.from({ length: target / count - 1 }, (_, i) => keys.bucket(b + (i + 1) * count));
    const destination = (id: string) => keys.bucket(deviceHash(id) % target);
    const moving = async () =>
      (await redis.zrange(source.key('devices'), '0', '-1')).filter((id) => destination(id).n !== b);
    const started = performance.now();
    const committed = (await redis.sismember(keys.bucketLayoutSplit, String(b))) === 1;
    if (!committed) {
      await redis.hset(keys.bucketLayout, 'splitting', b);
      await Promise.all([source, ...children].map((bucket) => redis.set(bucket.fence, '1')));
      // A rollout still being attached may have reached a new bucket before its devices and not
      // the old one yet: they would arrive without its delivery. Its attach goes first.
      if ((await redis.scard(keys.attaching)) > 0) {
        log.info({ bucket: b }, 'waiting for rollouts being attached');
        await Promise.all([source, ...children].map((bucket) => redis.del(bucket.fence)));
        await new Promise((resolve) => setTimeout(resolve, ATTACH_WAIT_MS));
        return;
      }
      const ids = await moving();
      for (let i = 0; i < ids.length; i += COPY_BATCH)
        await Promise.all(
          ids.slice(i, i + COPY_BATCH).map((id) => this.copyDevice(source, destination(id), id)),
        );
      await this.copyRollouts(source, children, destination);
      await this.awaitReplicas();
      this.movedDevices += ids.length;
      await redis
        .multi()
        .sadd(keys.bucketLayoutSplit, String(b))
        .hincrby(keys.bucketLayout, 'version', 1)
        .exec();
    }
    await this.awaitPods();
    // Every pod now places the moved devices in their new buckets: the old copies can go.
    const left = await moving();
    if (left.length > 0) {
      for (const rid of await redis.zrange(keys.rollouts, '0', '-1'))
        await Promise.all([
          redis.srem(source.key('open', rid), ...left),
          redis.srem(source.key('rolloutDevices', rid), ...left),
        ]);
    }
    for (let i = 0; i < left.length; i += COPY_BATCH)
      await Promise.all(left.slice(i, i + COPY_BATCH).map((id) => this.removeDevice(source, id)));
    // Before the fences go: only a caller that follows this layout (every live pod does) may place
    // devices here from now on; one cut off meanwhile, with commands from before, is told MOVING.
    const { version } = keys.layout.state;
    await Promise.all([source, ...children].map((bucket) => redis.set(bucket.key('placedBy'), version)));
    await Promise.all([source, ...children].map((bucket) => redis.del(bucket.fence)));
    await redis.hdel(keys.bucketLayout, 'splitting');
    log.info({ bucket: b, ms: Math.round(performance.now() - started) }, 'bucket split');
  }

  /** A device's own keys and its entries in the bucket's shared keys, copied where it moves. */
  private async copyDevice(from: Bucket, to: Bucket, id: string): Promise<void> {
    const { redis } = this.deps;
    const rollouts = await redis.zrange(from.key('deviceDeliveries', id), '0', '-1');
    const own = [
      from.key('device', id),
      from.key('queue', id),
      from.key('deviceDeliveries', id),
      from.key('history', id),
      from.key('archive', id),
      ...rollouts.map((rid) => from.key('delivery', rid, id)),
    ];
    await Promise.all(
      own.map(async (key) => {
        const value = await redis.dumpBuffer(key);
        // A key gone from the old bucket was removed after an earlier run copied it.
        if (value) await redis.restore(to.prefix + key.slice(from.prefix.length), 0, value, 'REPLACE');
      }),
    );
    const [due, device, node] = await Promise.all([
      redis.zscore(from.key('due'), id),
      redis.zscore(from.key('devices'), id),
      redis.hget(from.key('online'), id),
    ]);
    await Promise.all([
      due !== null ? redis.zadd(to.key('due'), due, id) : null,
      device !== null ? redis.zadd(to.key('devices'), device, id) : null,
      node !== null ? redis.hset(to.key('online'), id, node) : null,
    ]);
  }

  /**
   * The bucket's copies of rollouts and its continuous rollouts go to every new bucket (a copy the
   * new bucket has already is as new: every change is written to all buckets); the per-rollout
   * device sets are divided.
   */
  private async copyRollouts(from: Bucket, children: Bucket[], destination: (id: string) => Bucket) {
    const { redis, keys } = this.deps;
    const continuous = await redis.zrange(from.key('rollouts'), '0', '-1', 'WITHSCORES');
    for (const child of children) {
      for (let i = 0; i + 1 < continuous.length; i += 2)
        await redis.zadd(child.key('rollouts'), continuous[i + 1] ?? 0, continuous[i] ?? '');
    }
    for (const rid of await redis.zrange(keys.rollouts, '0', '-1')) {
      const copy = await redis.dumpBuffer(from.key('rollout', rid));
      if (copy) {
        for (const child of children) {
          if (!(await redis.exists(child.key('rollout', rid))))
            await redis.restore(child.key('rollout', rid), 0, copy);
        }
      }
      for (const set of ['open', 'rolloutDevices'] as const) {
        for (const id of await redis.smembers(from.key(set, rid))) {
          const to = destination(id);
          if (to.n !== from.n) await redis.sadd(to.key(set, rid), id);
        }
      }
    }
  }

  /** The old bucket's copy of a moved device, after every pod looks for it in its new bucket. */
  private async removeDevice(from: Bucket, id: string): Promise<void> {
    const { redis } = this.deps;
    const rollouts = await redis.zrange(from.key('deviceDeliveries', id), '0', '-1');
    await redis.del(
      from.key('device', id),
      from.key('queue', id),
      from.key('history', id),
      from.key('archive', id),
      ...rollouts.map((rid) => from.key('delivery', rid, id)),
    );
    await Promise.all([redis.zrem(from.key('due'), id), redis.hdel(from.key('online'), id)]);
    // Last: while the index still lists it, a run that died here finds it and removes the rest.
    await redis.del(from.key('deviceDeliveries', id));
    await redis.zrem(from.key('devices'), id);
  }

  /**
   * The copies are on replicas (WAIT on every master, on the connections that wrote them): a
   * failover of a new bucket's master cannot lose them once the layout points there. Short: the run
   * fails with the bucket still fenced, and the next run copies again.
   */
  private async awaitReplicas(): Promise<void> {
    const wanted = this.deps.replicaWait;
    if (!wanted || wanted.replicas === 0) return;
    for (const master of mastersOf(this.deps.redis)) {
      const confirmed = Number(await master.wait(wanted.replicas, wanted.timeoutMs));
      if (confirmed < wanted.replicas)
        throw new Error(`${confirmed} of ${wanted.replicas} replica(s) confirmed the copies: run again`);
    }
  }

  /** Every bucket split: the target becomes the count. */
  private async complete(): Promise<void> {
    const { redis, keys } = this.deps;
    const target = keys.layout.state.target;
    await redis
      .multi()
      .hset(keys.bucketLayout, 'count', String(target))
      .hdel(keys.bucketLayout, 'target')
      .del(keys.bucketLayoutSplit)
      .hincrby(keys.bucketLayout, 'version', 1)
      .exec();
    await this.awaitPods();
    this.deps.log.info({ count: target }, 'bucket growth complete');
  }

  /** Until every live pod (its lease not expired) says it follows the stored layout's version. */
  private async awaitPods(): Promise<void> {
    const { redis, keys } = this.deps;
    for (;;) {
      const state = await this.followStored();
      const [seconds] = await redis.time();
      const live = await redis.zrangebyscore(keys.nodes, Number(seconds) * 1000, '+inf');
      const following = live.length > 0 ? await redis.hmget(keys.nodeLayout, ...live) : [];
      if (following.every((version) => Number(version) >= state.version)) return;
      await new Promise((resolve) => setTimeout(resolve, ADOPTION_POLL_MS));
    }
  }
}
