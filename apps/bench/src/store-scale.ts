/**
 * The `store` scenario (issue #26): a fleet as large as Redis can hold, with no sockets (one box
 * cannot hold a million connections). Every step runs the pods' own code and Lua scripts:
 * - import: `devices.credentials.provisionMany` in batches, as `fleet devices import` sends them;
 * - connect: each device registers on a pod, as a camera connecting does (device_register);
 * - create: `rollout.create` to all (its latency), then the attach, shared by `ATTACHERS` pods'
 *   attachers (how long until every bucket has it);
 * - drain: a batched driver plays the devices: it takes the offers the attach made (claims for the
 *   ones relayed elsewhere) and reports each `succeeded`;
 * - its deliveries are compacted as they finish (measured with MEMORY USAGE on a sample); then
 *   it is canceled and its finished deliveries removed, as the retention does.
 * Redis's CPU and memory come from INFO, summed over the masters of a Cluster.
 */

import { CreateRolloutInput, PROVISION_BATCH_MAX } from '@camfleet/contracts';
import { DeliveryRetention } from '@camfleet/server';
import { ScriptDriver } from '@camfleet/server/testing/script-driver';
import { RedisClusterServer, RedisServer, redisInfo, type TestRedis } from '@camfleet/test-support';

export interface StoreScaleResult {
  devices: number;
  redis: 'single' | 'cluster';
  masters: number;
  importSeconds: number;
  /** Redis memory per device, provisioned and offline / connected and idle. */
  idleBytesPerDevice: { offline: number; connected: number };
  connectSeconds: number;
  /**
   * `rollout.preview` of a selector (matched against up to PREVIEW_SCAN devices, scaled past that) and
   * of all devices, once connected: how long it took, and how many devices the selector was said to match.
   */
  preview: { selectorMs: number; allMs: number; matched: number; exact: boolean };
  /** `rollout.create` to all, until it answered. */
  createMs: number;
  /** From create until every bucket has the rollout. */
  attachSeconds: number;
  /** Redis CPU the attach took, per device (summed over masters). */
  attachRedisCpuUsPerDevice: number;
  /** From the attach's end until every delivery succeeded. */
  drainSeconds: number;
  /** Redis CPU per delivery: attach, claims and reports. */
  redisCpuUsPerDelivery: number;
  /** Redis memory the finished rollout keeps, per device: everything (the bounded event streams too). */
  rolloutBytesPerDevice: number;
  /**
   * What each device keeps of it (MEMORY USAGE of its compacted deliveries and deliveries index,
   * which it did not have before; a sample of SAMPLE devices): what grows with devices × rollouts.
   */
  deviceBytesPerRollout: number;
  /** The buckets' delivery event streams after the rollout (bounded: 5,000 events a bucket). */
  eventStreamBytes: number;
  /** The rollout canceled (ended), then its finished deliveries removed (retention): how long. */
  purgeSeconds: number;
  /** Redis memory left of the rollout once purged, per device (counters, events, the rollout). */
  purgedBytesPerDevice: number;
  /** What the sampled devices keep of their deliveries once purged (0: nothing). */
  deviceBytesAfterPurge: number;
}

/** Devices whose keys are weighed with MEMORY USAGE. */
const SAMPLE = 1_000;

/** Pods sharing the attach (each one's attacher claims buckets). */
const ATTACHERS = 4;
/** Scripts in flight at once while devices connect and report. */
const CONCURRENCY = 1_000;
/** A bound on the attach, for a failure only (a million devices take Redis about a minute). */
const ATTACH_TIMEOUT_MS = 600_000;
/** provisionMany calls in flight at once. */
const IMPORT_CONCURRENCY = 4;

interface Reading {
  cpuUs: number;
  memory: number;
}

/** Redis's CPU (µs) and memory, summed over every master. */
async function read(ports: number[]): Promise<Reading> {
  const infos = await Promise.all(ports.map((port) => redisInfo(port, 'all')));
  let cpuUs = 0;
  let memory = 0;
  for (const info of infos) {
    cpuUs += (Number(info.get('used_cpu_user')) + Number(info.get('used_cpu_sys'))) * 1e6;
    memory += Number(info.get('used_memory'));
  }
  return { cpuUs, memory };
}

async function masterPorts(redis: TestRedis): Promise<number[]> {
  if (redis instanceof RedisClusterServer) return (await redis.masters()).map((m) => m.port);
  if (redis instanceof RedisServer) return [redis.port];
  throw new Error('the store scenario runs on one Redis or a Cluster');
}

/** Runs `work` over `items`, `limit` at a time. */
async function inWaves<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(work));
}

const seconds = (fromMs: number) => Math.round((performance.now() - fromMs) / 100) / 10;

export async function storeScale(options: {
  devices: number;
  redis: 'single' | 'cluster';
  masters: number;
  say: (line: string) => void;
}): Promise<StoreScaleResult> {
  const { devices, say } = options;
  const redis: TestRedis =
    options.redis === 'cluster'
      ? await RedisClusterServer.start({ masters: options.masters })
      : await RedisServer.start({ appendOnly: true });
  const pods = Array.from({ length: ATTACHERS }, (_, i) => new ScriptDriver(redis.url, 'cf', `pod-${i}`));
  const [pod] = pods as [ScriptDriver, ...ScriptDriver[]];
  try {
    const ports = await masterPorts(redis);
    const empty = await read(ports);
    const ids = Array.from({ length: devices }, (_, i) => `cam-${String(i).padStart(7, '0')}`);

    let started = performance.now();
    const batches: string[][] = [];
    for (let i = 0; i < devices; i += PROVISION_BATCH_MAX)
      batches.push(ids.slice(i, i + PROVISION_BATCH_MAX));
    await inWaves(batches, IMPORT_CONCURRENCY, (batch) =>
      pod.fleet.credentials.provisionMany(
        { devices: batch.map((deviceId) => ({ deviceId, model: 'cam-x', labels: { site: 'bench' } })) },
        'bench',
      ),
    );
    const importSeconds = seconds(started);
    const imported = await read(ports);
    say(`store: ${devices} devices imported in ${importSeconds} s`);

    started = performance.now();
    await inWaves(ids, CONCURRENCY, (id) => pod.register(id));
    const connectSeconds = seconds(started);
    const connected = await read(ports);
    say(`store: ${devices} devices connected in ${connectSeconds} s`);

    started = performance.now();
    const selected = await pod.fleet.inventory.preview({
      kind: 'selector',
      selector: 'model=cam-x',
    });
    const selectorMs = Math.round((performance.now() - started) * 10) / 10;
    started = performance.now();
    await pod.fleet.inventory.preview({ kind: 'all' });
    const preview = {
      selectorMs,
      allMs: Math.round((performance.now() - started) * 10) / 10,
      matched: selected.matched,
      exact: selected.exact,
    };
    say(
      `store: preview of a selector in ${preview.selectorMs} ms (${preview.matched} matched), of all in ${preview.allMs} ms`,
    );

    const patch = await pod.publish();
    const before = await read(ports);
    started = performance.now();
    const created = await pod.fleet.rollouts.create(CreateRolloutInput.parse({ patchId: patch.id }), 'bench');
    const createMs = Math.round((performance.now() - started) * 10) / 10;
    await Promise.all(pods.map((p) => p.attached(created.id, ATTACH_TIMEOUT_MS)));
    const attachSeconds = seconds(started);
    const attached = await read(ports);
    say(`store: rollout created in ${createMs} ms, attached in ${attachSeconds} s`);

    started = performance.now();
    const relayed = new Set(pod.relayed.flatMap((group) => group.devices.map((device) => device.deviceId)));
    const elsewhere = ids.filter((id) => !relayed.has(id));
    for (let i = 0; i < elsewhere.length; i += PROVISION_BATCH_MAX)
      await pod.claimMany(elsewhere.slice(i, i + PROVISION_BATCH_MAX));
    await inWaves(ids, CONCURRENCY, (id) => pod.report(id, created.id, 1, 'succeeded', '', patch.version));
    const drainSeconds = seconds(started);
    const after = await read(ports);
    const { counts } = await pod.fleet.rollouts.get(created.id);
    if (counts.succeeded !== devices) throw new Error(`store: ${counts.succeeded} of ${devices} succeeded`);
    say(`store: ${devices} deliveries succeeded in ${drainSeconds} s`);
    const usage = async (key: string) =>
      Number((await pod.redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(devices / SAMPLE)) === 0).slice(0, SAMPLE);
    // What the sampled devices keep of their deliveries: compacted lines and the index of open ones.
    const keptBySample = async () => {
      let bytes = 0;
      for (const id of sample) {
        const bucket = pod.keys.bucketOfDevice(id);
        bytes += (await usage(bucket.key('archive', id))) + (await usage(bucket.key('deviceDeliveries', id)));
      }
      return Math.round(bytes / sample.length);
    };
    const deviceBytesPerRollout = await keptBySample();
    let eventStreamBytes = 0;
    for (const bucket of pod.keys.allBuckets) eventStreamBytes += await usage(bucket.key('events'));

    await pod.fleet.rollouts.cancel(created.id, 'bench');
    started = performance.now();
    const retention = new DeliveryRetention({ ...pod.fleet.deps, deliveryRetentionMs: 1 });
    while (!(await retention.pass()));
    const purgeSeconds = seconds(started);
    const purged = await read(ports);
    const deviceBytesAfterPurge = await keptBySample();
    say(`store: its finished deliveries removed in ${purgeSeconds} s (retention)`);

    return {
      devices,
      redis: options.redis,
      masters: ports.length,
      importSeconds,
      idleBytesPerDevice: {
        offline: Math.round((imported.memory - empty.memory) / devices),
        connected: Math.round((connected.memory - empty.memory) / devices),
      },
      connectSeconds,
      preview,
      createMs,
      attachSeconds,
      attachRedisCpuUsPerDevice: Math.round(((attached.cpuUs - before.cpuUs) / devices) * 10) / 10,
      drainSeconds,
      redisCpuUsPerDelivery: Math.round(((after.cpuUs - before.cpuUs) / devices) * 10) / 10,
      rolloutBytesPerDevice: Math.round((after.memory - before.memory) / devices),
      deviceBytesPerRollout,
      eventStreamBytes,
      purgeSeconds,
      purgedBytesPerDevice: Math.round((purged.memory - before.memory) / devices),
      deviceBytesAfterPurge,
    };
  } finally {
    await Promise.all(pods.map((p) => p.close()));
    await redis.destroy();
  }
}
