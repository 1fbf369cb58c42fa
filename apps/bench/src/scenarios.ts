/**
 * The benchmark's timed scenarios (memory, connect, fanout, throttled, reconnect, onepod), each a
 * function over the Cluster. One file on purpose: they share the measuring helpers (cost counters,
 * CPU windows, waiting for a rollout) and are read side by side to compare what each one counts;
 * the scenarios with a setup of their own live apart (ddi, hostile, artifacts).
 */
import type { RolloutStatus } from '@camfleet/contracts';
import { maxInFlight, pacedPerMinute, waitFor } from '@camfleet/test-support';
import { Cluster } from './cluster.js';
import { type FloorResult, floor } from './floor.js';
import type { CameraKind } from './lean-camera.js';
import { GROUP_LABEL, type Group } from './protocol.js';
import { countRoundTrips } from './round-trips.js';
import { deltas, median, medianOf, quantile, round } from './stats.js';

const LONG = { timeoutMs: 300_000, intervalMs: 10 };

export interface ConnectResult {
  devices: number;
  cpu: CpuSpent;
  allReadyMs: number;
  readyP50Ms: number;
  readyP99Ms: number;
  connectsPerSecond: number;
}

/**
 * What a window of work cost per delivery, from each process's own accounting: CPU time of the
 * pods (/proc, the scheduler's per-thread time), of Redis (INFO used_cpu_*) and of the camera
 * processes (process.cpuUsage), in µs per delivery; Redis commands per delivery from INFO
 * commandstats, so the commands scripts run count one by one, not one EVALSHA.
 */
export interface DeliveryCost {
  podCpuUsPerDelivery: number;
  redisCpuUsPerDelivery: number;
  redisCommandsPerDelivery: number;
  /** The load generator's own CPU (the lean cameras', or the simulator's). */
  generatorCpuUsPerDelivery: number;
}

export interface FanoutResult extends DeliveryCost {
  devices: number;
  cameras: CameraKind;
  offerP50Ms: number;
  offerP99Ms: number;
  offerMaxMs: number;
  /** The first offer, and the `rollout.create` call's return (it returns once the rollout is recorded; the pods attach it after). */
  offerFirstMs: number;
  createMs: number;
  allSucceededMs: number;
  /** Redis calls per delivery by command (INFO commandstats), e.g. evalsha, xadd. */
  redisCallsPerDelivery: Record<string, number>;
  /** Lua script calls per delivery by script (the pods' own counters). */
  scriptCallsPerDelivery: Record<string, number>;
}

export interface MemoryResult {
  devices: number;
  /** The transport alone on this machine (no camfleet): the floor under podBytesPerDevice. */
  floor: FloorResult;
  podBytesPerDevice: number;
  podHeapBytesPerDevice: number;
  podIdleRssBytes: number;
  simBytesPerDevice: number;
}

/**
 * The reconnect scenario's cost per delivery (DeliveryCost) is of the whole window from the kill
 * until the work created for the killed pod's devices all succeeded, divided by those devices: each
 * one's reconnect, register, resubscribe and delivery.
 */
export interface ReconnectResult extends DeliveryCost {
  /** The devices the killed pod held. */
  devices: number;
  cameras: CameraKind;
  /** From the kill until each of them is subscribed on another pod (the median device, and all). */
  resubscribedP50Ms: number;
  allResubscribedMs: number;
  /** Their lost connections by reason: the kill, then any failed attempt to come back. */
  lost: Record<string, number>;
  /** CPU spent from the kill until all were back (the killed pod's entry is 0). */
  cpu: CpuSpent;
  /** From the kill until each got the work created for it meanwhile, and until all of it succeeded. */
  allOfferedMs: number;
  allSucceededMs: number;
}

export interface ThrottledResult {
  devices: number;
  limitPerMinute: number;
  /** Starts after the bucket's one-second burst, per minute from the first start to the last. */
  measuredPerMinute: number;
  /** The starts (`offered` events) and the time from the first to the last, as the pods stamped them. */
  starts: number;
  startSpanMs: number;
  maxInFlight: number;
  maxInFlightSeen: number;
  allSucceededMs: number;
}

const selectorOf = (group: Group) => `${GROUP_LABEL}=${group}`;

/** CPU time spent by Redis, each pod and each simulator over a window (who was the bottleneck). */
export interface CpuSpent {
  redisMs: number;
  podsMs: number[];
  simsMs: number[];
}

/** Starts measuring; the returned function ends the window. */
async function cpuWindow(cluster: Cluster): Promise<() => Promise<CpuSpent>> {
  const read = () =>
    Promise.all([cluster.redisCounters(), cluster.podsUsage(), cluster.all({ type: 'usage' })] as const);
  const [redis, pods, sims] = await read();
  return async () => {
    const [redis2, pods2, sims2] = await read();
    const spent = (after: { cpuMs: number }[], before: { cpuMs: number }[]) =>
      after.map((p, i) => Math.max(0, Math.round(p.cpuMs - (before[i]?.cpuMs ?? 0))));
    return {
      redisMs: Math.round(redis2.cpuMs - redis.cpuMs),
      podsMs: spent(pods2, pods),
      simsMs: spent(sims2, sims),
    };
  };
}

let patchSeq = 0;
/** A new patch version each time: every rollout is real work for every device. */
async function publish(cluster: Cluster): Promise<string> {
  patchSeq++;
  const patch = await cluster.admin.client.patch.publish.mutate({
    name: 'bench-fw',
    version: `2.0.${patchSeq}`,
  });
  return patch.id;
}

export async function rollOut(
  cluster: Cluster,
  group: Group,
  limits: { maxInFlight?: number; maxPerMinute?: number } = {},
): Promise<{ rolloutId: string; createdAt: number }> {
  const patchId = await publish(cluster);
  const createdAt = Date.now();
  const rollout = await cluster.admin.client.rollout.create.mutate({
    patchId,
    target: { kind: 'selector', selector: selectorOf(group) },
    ...limits,
  });
  return { rolloutId: rollout.id, createdAt };
}

export async function succeeded(
  cluster: Cluster,
  rolloutId: string,
  devices: number,
): Promise<RolloutStatus> {
  let last: RolloutStatus | null = null;
  try {
    return await waitFor(
      async () => {
        last = await cluster.admin.client.rollout.get.query({ rolloutId });
        if (last.counts.failed > 0) throw new Error(`rollout ${rolloutId}: ${last.counts.failed} failed`);
        return last.counts.succeeded === devices ? last : null;
      },
      { ...LONG, intervalMs: 25, what: `${devices} deliveries to succeed` },
    );
  } catch (error) {
    // Say where the rest are (queued, offered, …): the first thing to know about a stuck run.
    const counts = (last as RolloutStatus | null)?.counts;
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; counts ${JSON.stringify(counts)}`,
    );
  }
}

async function online(cluster: Cluster, count: number): Promise<void> {
  // fleet.stats reads every bucket's presence: not asked for more often than this needs.
  await waitFor(async () => (await cluster.admin.client.fleet.stats.query()).online === count, {
    ...LONG,
    intervalMs: 500,
    what: `${count} devices online`,
  });
}

/** Every main device disconnects, then all connect again at once with their secrets. */
export async function connect(cluster: Cluster, devices: number, throttled: number): Promise<ConnectResult> {
  await cluster.all({ type: 'disconnect' });
  await online(cluster, throttled);
  const stop = await cpuWindow(cluster);
  const runs = await cluster.all({ type: 'connect' });
  const cpu = await stop();
  const startedAt = Math.min(...runs.map((r) => r.startedAt));
  const allReadyMs = Math.max(...runs.map((r) => r.allReadyAt)) - startedAt;
  const ready = runs.flatMap((r) => r.readyMs);
  await online(cluster, devices + throttled);
  return {
    devices,
    cpu,
    allReadyMs,
    readyP50Ms: quantile(ready, 0.5),
    readyP99Ms: quantile(ready, 0.99),
    connectsPerSecond: round((devices * 1000) / allReadyMs, 0),
  };
}

/** Per-script call counts of all pods (`camfleet_redis_command_seconds_count`). */
async function scriptCalls(cluster: Cluster): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const pod of cluster.pods) {
    const text = await (await fetch(`${pod.url}/metrics`)).text();
    for (const [, script, count] of text.matchAll(
      /^camfleet_redis_command_seconds_count\{script="([^"]+)"\} (\d+)/gm,
    ))
      totals[script ?? ''] = (totals[script ?? ''] ?? 0) + Number(count);
  }
  return totals;
}

const perDelivery = (counts: Record<string, number>, devices: number) =>
  Object.fromEntries(
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([key, n]) => [key, round(n / devices, 2)]),
  );

/** Counters a cost is the difference of: Redis (calls, CPU), the pods' CPU, the cameras' CPU. */
interface CostCounters {
  redisCpuMs: number;
  redisCalls: Record<string, number>;
  podCpuMs: number[];
  generatorCpuMs: number[];
}

async function costCounters(cluster: Cluster): Promise<CostCounters> {
  const [redis, pods, sims] = await Promise.all([
    cluster.redisCounters(),
    cluster.podsUsage(),
    cluster.all({ type: 'usage' }),
  ] as const);
  return {
    redisCpuMs: redis.cpuMs,
    redisCalls: redis.calls,
    podCpuMs: pods.map((p) => p.cpuMs),
    generatorCpuMs: sims.map((s) => s.cpuMs),
  };
}

/** Per delivery between two readings; a pod gone meanwhile (reads 0) counts nothing. */
function costPerDelivery(before: CostCounters, after: CostCounters, deliveries: number): DeliveryCost {
  const spent = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + Math.max(0, x - (b[i] ?? 0)), 0);
  const us = (ms: number) => round((ms * 1000) / deliveries, 1);
  const calls = Object.values(deltas(before.redisCalls, after.redisCalls)).reduce((a, b) => a + b, 0);
  return {
    podCpuUsPerDelivery: us(spent(after.podCpuMs, before.podCpuMs)),
    redisCpuUsPerDelivery: us(after.redisCpuMs - before.redisCpuMs),
    redisCommandsPerDelivery: round(calls / deliveries, 2),
    generatorCpuUsPerDelivery: us(spent(after.generatorCpuMs, before.generatorCpuMs)),
  };
}

/** One rollout to every main device: offer latency, time to all succeeded, and its cost. */
export async function fanout(cluster: Cluster, devices: number): Promise<FanoutResult> {
  // Counted from before the patch is published: one patch's commands are noise per delivery.
  const [before, scriptsBefore] = await Promise.all([costCounters(cluster), scriptCalls(cluster)]);
  const { rolloutId, createdAt } = await rollOut(cluster, 'main');
  const createMs = Date.now() - createdAt;
  await succeeded(cluster, rolloutId, devices);
  const allSucceededMs = Date.now() - createdAt;
  const [after, scriptsAfter] = await Promise.all([costCounters(cluster), scriptCalls(cluster)]);
  const offeredMs = (await cluster.all({ type: 'offers', rolloutId })).flatMap((r) =>
    r.offeredAt.map((at) => at - createdAt),
  );
  if (offeredMs.length !== devices)
    throw new Error(`${offeredMs.length} of ${devices} devices saw the offer`);
  return {
    devices,
    cameras: cluster.cameras,
    offerP50Ms: quantile(offeredMs, 0.5),
    offerP99Ms: quantile(offeredMs, 0.99),
    offerMaxMs: Math.max(...offeredMs),
    offerFirstMs: Math.min(...offeredMs),
    createMs,
    allSucceededMs,
    ...costPerDelivery(before, after, devices),
    redisCallsPerDelivery: perDelivery(deltas(before.redisCalls, after.redisCalls), devices),
    scriptCallsPerDelivery: perDelivery(deltas(scriptsBefore, scriptsAfter), devices),
  };
}

export interface RoundTripResult {
  /** Commands clients sent Redis per delivery (each script call is one), from MONITOR. */
  redisRoundTripsPerDelivery: number;
  byCommandPerDelivery: Record<string, number>;
}

/** One more fan-out, untimed, with Redis MONITOR counting what clients send per delivery. */
export async function fanoutRoundTrips(cluster: Cluster, devices: number): Promise<RoundTripResult> {
  const stop = await countRoundTrips(cluster.redisClient);
  const { rolloutId } = await rollOut(cluster, 'main');
  await succeeded(cluster, rolloutId, devices);
  const counted = await stop();
  return {
    redisRoundTripsPerDelivery: round(counted.total / devices, 2),
    byCommandPerDelivery: perDelivery(counted.byCommand, devices),
  };
}

/** Clients of the transport-only floor measurement. */
const FLOOR_CONNECTIONS = 3_000;

/** Pod RSS and heap per connected device, over the pods' idle baseline; simulator RSS per device. */
export async function memory(
  cluster: Cluster,
  baseline: { rssBytes: number; heapBytes: number }[],
  devices: number,
): Promise<MemoryResult> {
  const [stats, usage, heaps, sims] = await Promise.all([
    cluster.admin.client.fleet.stats.query(),
    cluster.podsUsage(),
    podHeaps(cluster),
    cluster.all({ type: 'usage' }),
  ]);
  const perPod = cluster.pods.map((pod, i) => {
    // Instances are named `<FLEET_NODE_ID>.<random>`.
    const held = stats.nodes.find((n) => n.node.startsWith(`bench-pod-${i + 1}.`))?.devices ?? 0;
    const base = baseline[i] ?? { rssBytes: 0, heapBytes: 0 };
    return {
      rss: ((usage[i]?.rssBytes ?? 0) - base.rssBytes) / Math.max(1, held),
      heap: ((heaps[i] ?? 0) - base.heapBytes) / Math.max(1, held),
      held,
      pod,
    };
  });
  return {
    devices,
    floor: await floor(Math.min(FLOOR_CONNECTIONS, devices)),
    podBytesPerDevice: round(median(perPod.map((p) => p.rss)), 0),
    podHeapBytesPerDevice: round(median(perPod.map((p) => p.heap)), 0),
    podIdleRssBytes: median(baseline.map((b) => b.rssBytes)),
    simBytesPerDevice: round(sims.reduce((sum, s) => sum + s.rssBytes, 0) / stats.online, 0),
  };
}

/** Each pod's used V8 heap, from its metrics. */
export async function podHeaps(cluster: Cluster): Promise<number[]> {
  return Promise.all(
    cluster.pods.map(async (pod) => {
      const text = await (await fetch(`${pod.url}/metrics`)).text();
      return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? 0);
    }),
  );
}

/** A rate- and in-flight-limited rollout to the throttled group: the limits as measured. */
export async function throttled(
  cluster: Cluster,
  devices: number,
  limits: { maxPerMinute: number; maxInFlight: number },
): Promise<ThrottledResult> {
  const { rolloutId, createdAt } = await rollOut(cluster, 'throttled', limits);
  await succeeded(cluster, rolloutId, devices);
  const allSucceededMs = Date.now() - createdAt;
  const events = (await cluster.admin.client.events.list.query({ rolloutId, limit: 1000 })).filter(
    (e) => e.kind === 'delivery',
  );
  const starts = events.filter((e) => e.to === 'offered').map((e) => e.at);
  return {
    devices,
    limitPerMinute: limits.maxPerMinute,
    measuredPerMinute: round(pacedPerMinute(events, limits.maxPerMinute) ?? Number.NaN, 0),
    starts: starts.length,
    startSpanMs: starts.length > 0 ? Math.max(...starts) - Math.min(...starts) : 0,
    maxInFlight: limits.maxInFlight,
    maxInFlightSeen: maxInFlight(events),
    allSucceededMs,
  };
}

/** Devices a `devices` rollout may name at most (the API's limit). */
const MAX_TARGET_IDS = 10_000;

/**
 * One pod is killed (kill -9) while it holds N/K devices, and work is created for them right away
 * (rollouts naming exactly those devices): how long until all of them are subscribed on the other
 * pods, have been offered that pending work, and have succeeded. The other devices stay idle.
 */
export async function reconnect(cluster: Cluster): Promise<ReconnectResult> {
  const victim = cluster.pods.length - 1;
  const url = cluster.pods[victim]?.url ?? '';
  const deviceIds = (await cluster.all({ type: 'watch', url })).flatMap((r) => r.deviceIds);
  const [stop, before] = await Promise.all([cpuWindow(cluster), costCounters(cluster)]);
  const killedAt = Date.now();
  await cluster.kill(victim);
  const rolloutIds: string[] = [];
  for (let i = 0; i < deviceIds.length; i += MAX_TARGET_IDS) {
    const patchId = await publish(cluster);
    const target = { kind: 'devices' as const, deviceIds: deviceIds.slice(i, i + MAX_TARGET_IDS) };
    rolloutIds.push((await cluster.admin.client.rollout.create.mutate({ patchId, target })).id);
  }
  const resubscribed = async () =>
    (await cluster.all({ type: 'resubscribed' })).flatMap((r) => r.resubscribedAt);
  await waitFor(async () => (await resubscribed()).length === deviceIds.length, {
    ...LONG,
    intervalMs: 50,
    what: `${deviceIds.length} devices to subscribe elsewhere`,
  });
  const cpu = await stop();
  const back = (await resubscribed()).map((at) => at - killedAt);
  const lost: Record<string, number> = {};
  for (const reply of await cluster.all({ type: 'resubscribed' }))
    for (const [reason, n] of Object.entries(reply.lost)) lost[reason] = (lost[reason] ?? 0) + n;
  for (const [i, rolloutId] of rolloutIds.entries())
    await succeeded(cluster, rolloutId, Math.min(MAX_TARGET_IDS, deviceIds.length - i * MAX_TARGET_IDS));
  const allSucceededMs = Date.now() - killedAt;
  const after = await costCounters(cluster);
  const offered = await Promise.all(
    rolloutIds.map((rolloutId) => cluster.all({ type: 'offers', rolloutId })),
  );
  const offeredAt = offered.flat().flatMap((r) => r.offeredAt);
  if (offeredAt.length !== deviceIds.length)
    throw new Error(`${offeredAt.length} of ${deviceIds.length} re-offered`);
  return {
    devices: deviceIds.length,
    cameras: cluster.cameras,
    resubscribedP50Ms: quantile(back, 0.5),
    cpu,
    allResubscribedMs: Math.max(...back),
    lost,
    allOfferedMs: Math.max(...offeredAt) - killedAt,
    allSucceededMs,
    ...costPerDelivery(before, after, deviceIds.length),
  };
}

export interface OnePodRuns extends FanoutResult {
  runs: FanoutResult[];
}

export interface OnePodResult {
  devices: number;
  /** The headline: the lean generator's cameras, then the same with the full device simulator's. */
  lean: OnePodRuns;
  sim: OnePodRuns;
}

/**
 * Issue #21 part 5: a fleet of its own, one pod and `devices` cameras, fanned out `runs` times with
 * each kind of camera (the lean generator, then the full device simulator: what real clients cost);
 * the medians. Run with no other fleet up, so nothing else shares the machine.
 */
export async function onePod(options: {
  devices: number;
  runs: number;
  logLevel: string;
  cpuProfDir: string | null;
  say: (text: string) => void;
}): Promise<OnePodResult> {
  const one = async (cameras: CameraKind): Promise<OnePodRuns> => {
    const cluster = await Cluster.up({
      pods: 1,
      sims: 1,
      devices: options.devices,
      cameras,
      throttledDevices: 0,
      throttledApplyMs: 0,
      logLevel: options.logLevel,
      cpuProfDir: options.cpuProfDir,
      redis: 'single',
      clusterMasters: 1,
      podName: `bench-onepod-${cameras}`,
    });
    try {
      await cluster.all({ type: 'provision' });
      const runs: FanoutResult[] = [];
      for (let i = 0; i < options.runs; i++) {
        runs.push(await fanout(cluster, options.devices));
        const last = runs.at(-1);
        options.say(
          `onepod ${cameras} ${i + 1}/${options.runs}: offer p99 ${last?.offerP99Ms} ms, all succeeded ${last?.allSucceededMs} ms`,
        );
      }
      return { ...medianOf(runs), runs };
    } finally {
      await cluster.down();
    }
  };
  const lean = await one('lean');
  const sim = await one('sim');
  return { devices: options.devices, lean, sim };
}
