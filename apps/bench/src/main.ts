/**
 * `pnpm bench`: Redis, pods and simulated cameras as real processes on this machine, the scenarios
 * of the performance issue, one JSON document (`--out`) and a table.
 */
import { writeFile } from 'node:fs/promises';
import { RedisClusterServer, TEST_TOKENS } from '@camfleet/test-support';
import { CommanderError } from 'commander';
import { artifacts } from './artifacts.js';
import { bucketSpread } from './balance.js';
import { Cluster } from './cluster.js';
import { ddi } from './ddi.js';
import { hostile } from './hostile.js';
import { idleFleet } from './idle.js';
import type { LeanCounters } from './lean-camera.js';
import { luaCost } from './lua-cost.js';
import {
  ARTIFACT_DEVICES_MAX,
  type BenchOptions,
  LUA_DEVICES_MAX,
  ONEPOD_DEVICES_MAX,
  ONEPOD_RUNS,
  parseOptions,
} from './options.js';
import { type BenchReport, formatTable, machineFacts, type RedisBalance } from './report.js';
import * as scenario from './scenarios.js';
import { soak } from './soak.js';
import { medianOf } from './stats.js';
import { storeScale } from './store-scale.js';

const say = (text: string) => process.stderr.write(`[bench] ${text}\n`);

/** The lean cameras' counters of every process, summed. */
function sumCounters(all: LeanCounters[]): LeanCounters | null {
  const [first, ...rest] = all;
  if (!first) return null;
  const sum: LeanCounters = structuredClone(first);
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
  };
  for (const c of rest) {
    for (const key of Object.keys(c) as (keyof LeanCounters)[]) {
      const value = c[key];
      if (typeof value === 'number') (sum[key] as number) += value;
    }
    add(sum.reportErrors, c.reportErrors);
    add(sum.closes, c.closes);
    add(sum.refusedUpgrades, c.refusedUpgrades);
  }
  return sum;
}

async function run(options: BenchOptions): Promise<BenchReport> {
  const has = (name: BenchOptions['scenarios'][number]) => options.scenarios.includes(name);
  const report: BenchReport = {
    command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: new Date().toISOString(),
    machine: machineFacts(),
    options,
    scenarios: {},
    churn: {},
  };
  // Written after each scenario: a run that fails late keeps what it measured.
  const save = async () => {
    if (options.out) await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
  };
  if (has('lua')) {
    // First of all: Redis alone, before any pod or camera process runs.
    const devices = Math.min(options.devices, LUA_DEVICES_MAX);
    say(`lua: the transitions of ${devices} deliveries run on Redis alone`);
    report.scenarios.lua = await luaCost(devices);
    const { total } = report.scenarios.lua;
    say(
      `lua: ${total.redisCpuUsPerDelivery} µs and ${total.redisCommandsPerDelivery} commands of Redis per delivery`,
    );
    await save();
    if (options.scenarios.every((name) => name === 'lua')) return report;
  }
  if (has('store')) {
    say(`store: ${options.devices} devices held by Redis alone (${options.redis}), no sockets`);
    report.scenarios.store = await storeScale({
      devices: options.devices,
      redis: options.redis,
      masters: options.clusterMasters,
      say,
    });
    await save();
    if (options.scenarios.every((name) => name === 'lua' || name === 'store')) return report;
  }
  if (has('onepod')) {
    // First, on a machine with no other fleet up: one pod, its own Redis and cameras.
    const devices = Math.min(options.devices, ONEPOD_DEVICES_MAX);
    say(`onepod: ${devices} cameras on one pod, ${ONEPOD_RUNS} fan-outs with lean cameras, then simulated`);
    report.scenarios.onepod = await scenario.onePod({
      devices,
      runs: ONEPOD_RUNS,
      logLevel: options.logLevel,
      cpuProfDir: options.cpuProfDir,
      say,
    });
    const { lean, sim } = report.scenarios.onepod;
    say(
      `onepod: offer p99 ${lean.offerP99Ms} ms lean, ${sim.offerP99Ms} ms simulated (medians of ${ONEPOD_RUNS})`,
    );
    await save();
    if (options.scenarios.every((name) => name === 'onepod' || name === 'lua')) return report;
  }
  say(
    `${options.devices} cameras (${options.cameras}) (+${options.throttledDevices} throttled), ${options.pods} pods, ${options.sims} camera processes`,
  );
  const cluster = await Cluster.up(options);
  try {
    const [idle, heaps] = await Promise.all([cluster.podsUsage(), scenario.podHeaps(cluster)]);
    const baseline = idle.map((u, i) => ({ rssBytes: u.rssBytes, heapBytes: heaps[i] ?? 0 }));
    const total = options.devices + options.throttledDevices;
    const provisioned = await cluster.all({ type: 'provision' });
    report.provision = { devices: total, ms: Math.max(...provisioned.map((p) => p.ms)) };
    say(`setup: ${total} cameras enrolled and subscribed in ${report.provision.ms} ms`);
    if (has('memory')) {
      // Right after setup, idle a moment: what an idle connected device costs, not a storm's garbage.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      report.scenarios.memory = await scenario.memory(cluster, baseline, total);
      say(`memory: ${report.scenarios.memory.podBytesPerDevice} bytes per device (pod RSS)`);
      await save();
    }
    if (has('idle')) {
      // Before any rollout: an idle fleet, alone and then watched by dashboards.
      report.scenarios.idle = await idleFleet(cluster, total, options.idleSeconds * 1000);
      const i = report.scenarios.idle;
      say(
        `idle: pods ${i.podCpuMsPerSecondAlone} → ${i.podCpuMsPerSecondWatched} ms CPU/s, Redis ${i.redisCpuMsPerSecondAlone} → ${i.redisCpuMsPerSecondWatched} ms CPU/s with ${i.dashboards} dashboards`,
      );
      await save();
    }
    if (has('connect')) {
      const runs: scenario.ConnectResult[] = [];
      for (let i = 0; i < options.repeat; i++) {
        runs.push(await scenario.connect(cluster, options.devices, options.throttledDevices));
        say(`connect ${i + 1}/${options.repeat}: all subscribed in ${runs.at(-1)?.allReadyMs} ms`);
      }
      report.scenarios.connect = { ...medianOf(runs), runs };
      await save();
    }
    if (has('fanout')) {
      const runs: scenario.FanoutResult[] = [];
      for (let i = 0; i < options.repeat; i++) {
        runs.push(await scenario.fanout(cluster, options.devices));
        const last = runs.at(-1);
        say(
          `fanout ${i + 1}/${options.repeat}: offer p99 ${last?.offerP99Ms} ms, all succeeded ${last?.allSucceededMs} ms; µs per delivery pods ${last?.podCpuUsPerDelivery}, Redis ${last?.redisCpuUsPerDelivery}, ${options.cameras} cameras ${last?.generatorCpuUsPerDelivery}; ${last?.redisCommandsPerDelivery} Redis commands`,
        );
      }
      const roundTrips = await scenario.fanoutRoundTrips(cluster, options.devices);
      say(
        `fanout: ${roundTrips.redisRoundTripsPerDelivery} Redis round trips per delivery (MONITOR, untimed)`,
      );
      report.scenarios.fanout = { ...medianOf(runs), runs, roundTrips };
      await save();
    }
    if (has('throttled')) {
      report.scenarios.throttled = await scenario.throttled(cluster, options.throttledDevices, options);
      say(
        `throttled: ${report.scenarios.throttled.measuredPerMinute}/min, max in flight ${report.scenarios.throttled.maxInFlightSeen}`,
      );
      await save();
    }
    if (has('hostile')) {
      report.scenarios.hostile = await hostile(cluster);
      const h = report.scenarios.hostile;
      say(
        `hostile: Redis ${h.redisCommandsPerSecondOne} → ${h.redisCommandsPerSecondFlood} commands/s with ${h.connections}×${h.subscriptionsPerConnection} followers`,
      );
      await save();
    }
    if (has('ddi')) {
      report.scenarios.ddi = await ddi(cluster, options.devices, TEST_TOKENS.admin);
      const d = report.scenarios.ddi;
      say(
        `ddi: ${d.polls} polls at ${d.pollsPerSecond}/s, pod ${d.podCpuMsPer1000Polls} ms CPU per 1000 polls`,
      );
      await save();
    }
    if (has('artifacts')) {
      // Fleets of their own (the S3 store), beside this idle one.
      report.scenarios.artifacts = await artifacts({
        devices: Math.min(options.devices, ARTIFACT_DEVICES_MAX),
        pods: options.pods,
        artifactBytes: options.artifactMib * 1024 * 1024,
        logLevel: options.logLevel,
      });
      const { presigned, podServed } = report.scenarios.artifacts;
      say(
        `artifacts: bytes through the pods per delivery ${presigned.bytesThroughPodsPerDelivery} presigned, ${podServed.bytesThroughPodsPerDelivery} pod-served (artifact ${report.scenarios.artifacts.artifactBytes} B)`,
      );
      await save();
    }
    // Last but one: it kills a pod.
    if (has('reconnect')) {
      report.scenarios.reconnect = await scenario.reconnect(cluster);
      const r = report.scenarios.reconnect;
      say(
        `reconnect: ${r.devices} resubscribed in ${r.allResubscribedMs} ms; µs per device pods ${r.podCpuUsPerDelivery}, Redis ${r.redisCpuUsPerDelivery}, cameras ${r.generatorCpuUsPerDelivery}; ${r.redisCommandsPerDelivery} Redis commands`,
      );
    }
    // Last: the pod the reconnect scenario killed is started again first.
    if (has('soak')) {
      report.scenarios.soak = await soak(cluster, options.devices, options.minutes);
      const k = report.scenarios.soak;
      say(
        `soak: ${k.rollouts} rollouts, ${k.deliveries} deliveries in ${k.minutes} min; pod RSS median ${k.podRssMedianMiB?.afterWarmUp} → ${k.podRssMedianMiB?.atEnd} MiB, Redis ${k.redisGrowthMiB} MiB (${k.redisBytesPerRollout} B a rollout); errors ${JSON.stringify(k.errors)}`,
      );
      await save();
    }
    report.redis = await redisBalance(cluster, options);
    const usages = await cluster.all({ type: 'usage' });
    for (const usage of usages)
      for (const [reason, n] of Object.entries(usage.lost))
        report.churn[reason] = (report.churn[reason] ?? 0) + n;
    report.generator = {
      cameras: options.cameras,
      lean: sumCounters(usages.flatMap((usage) => (usage.lean ? [usage.lean] : []))),
    };
    await save();
    return report;
  } finally {
    await cluster.down();
  }
}

/** Keys, commands and CPU per master; in a cluster, where the buckets fall for other bucket counts. */
async function redisBalance(cluster: Cluster, options: BenchOptions): Promise<RedisBalance> {
  const masters = (await cluster.redisMasters()).map(({ node, counters }) => ({
    node,
    keys: counters.keys,
    commands: Object.values(counters.calls).reduce((a, b) => a + b, 0),
    cpuMs: Math.round(counters.cpuMs),
  }));
  if (!(cluster.redis instanceof RedisClusterServer)) return { mode: options.redis, masters };
  const slots = (await cluster.redis.masters()).map(({ port, slots }) => ({
    node: `127.0.0.1:${port}`,
    slots: slots.split(' ').map((range) => {
      const [from = 0, to = from] = range.split('-').map(Number);
      return [from, to] as [number, number];
    }),
  }));
  return { mode: options.redis, masters, bucketSpread: bucketSpread(slots, [16, 64, 256, 1024]) };
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const report = await run(options);
  process.stdout.write(`${formatTable(report)}\n`);
  if (options.out) say(`wrote ${options.out}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
