import { cpus, totalmem } from 'node:os';
import Table from 'cli-table3';
import type { ArtifactRun, ArtifactsResult } from './artifacts.js';
import type { BucketSpread } from './balance.js';
import type { DdiResult } from './ddi.js';
import type { HostileResult } from './hostile.js';
import type { IdleResult } from './idle.js';
import type { CameraKind, LeanCounters } from './lean-camera.js';
import type { LuaCostResult, PhaseCost } from './lua-cost.js';
import type { BenchOptions } from './options.js';
import type {
  ConnectResult,
  DeliveryCost,
  FanoutResult,
  MemoryResult,
  OnePodResult,
  ReconnectResult,
  RoundTripResult,
  ThrottledResult,
} from './scenarios.js';
import type { SoakResult } from './soak.js';
import type { StoreScaleResult } from './store-scale.js';

/** The benchmark's JSON document (times in ms, memory in bytes). */
export interface BenchReport {
  command: string;
  startedAt: string;
  machine: { cores: number; cpu: string; memoryBytes: number; node: string; platform: string };
  options: BenchOptions;
  /** Enrolling and first connecting every camera (not a scenario: the setup; absent for onepod alone). */
  provision?: { devices: number; ms: number };
  scenarios: {
    connect?: ConnectResult & { runs: ConnectResult[] };
    fanout?: FanoutResult & { runs: FanoutResult[]; roundTrips: RoundTripResult };
    memory?: MemoryResult;
    reconnect?: ReconnectResult;
    throttled?: ThrottledResult;
    hostile?: HostileResult;
    ddi?: DdiResult;
    artifacts?: ArtifactsResult;
    onepod?: OnePodResult;
    lua?: LuaCostResult;
    idle?: IdleResult;
    soak?: SoakResult;
    store?: StoreScaleResult;
  };
  /** The main cameras' kind, and what the lean ones did over the whole run (summed over processes). */
  generator?: { cameras: CameraKind; lean: LeanCounters | null };
  /** Every connection the cameras lost during the run, by reason (the reconnect scenario's kill included). */
  churn: Record<string, number>;
  /** Keys and work per Redis master at the end of the run, and how the buckets fall on them. */
  redis?: RedisBalance;
}

export interface RedisBalance {
  mode: 'single' | 'cluster';
  masters: Array<{ node: string; keys: number; commands: number; cpuMs: number }>;
  /** Cluster only: buckets per master for several bucket counts (the layout uses 64). */
  bucketSpread?: BucketSpread[];
}

export function machineFacts(): BenchReport['machine'] {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

const ms = (n: number) => `${Math.round(n).toLocaleString('en-US')} ms`;
const us = (n: number) => `${n.toLocaleString('en-US', { maximumFractionDigits: 1 })} µs`;
/** Pods / Redis / generator CPU per delivery, and Redis commands per delivery. */
const costRow = (c: DeliveryCost) =>
  `${us(c.podCpuUsPerDelivery)} / ${us(c.redisCpuUsPerDelivery)} / ${us(c.generatorCpuUsPerDelivery)}; ${c.redisCommandsPerDelivery} commands`;
const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
const percentOf = (part: number, whole: number) => {
  const percent = (100 * part) / whole;
  return `${percent.toFixed(percent >= 10 ? 0 : 2)} %`;
};
const bytes = (n: number) => (Math.abs(n) >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`);

/** The human table: one row per figure. */
export function formatTable(report: BenchReport): string {
  const table = new Table({ head: ['scenario', 'figure', 'value'] });
  const {
    connect,
    fanout,
    memory,
    reconnect,
    throttled,
    hostile,
    ddi,
    artifacts,
    onepod,
    lua,
    idle,
    soak,
    store,
  } = report.scenarios;
  const runs = (n: number) => (n > 1 ? ` (median of ${n})` : '');
  const cameras = report.generator?.cameras ?? report.options.cameras;
  if (report.provision)
    table.push([
      'setup',
      `enroll + connect ${report.provision.devices} cameras (main: ${cameras})`,
      ms(report.provision.ms),
    ]);
  if (connect) {
    const label = `${connect.devices} devices${runs(connect.runs.length)}`;
    table.push(
      ['connect', `all subscribed, ${label}`, ms(connect.allReadyMs)],
      ['connect', 'ready latency p50 / p99', `${ms(connect.readyP50Ms)} / ${ms(connect.readyP99Ms)}`],
      ['connect', 'rate', `${connect.connectsPerSecond.toLocaleString('en-US')}/s`],
    );
  }
  if (fanout) {
    const label = `${fanout.devices} devices${runs(fanout.runs.length)}`;
    table.push(
      [
        'fanout',
        `offer p50 / p99 / max, ${label}`,
        `${ms(fanout.offerP50Ms)} / ${ms(fanout.offerP99Ms)} / ${ms(fanout.offerMaxMs)}`,
      ],
      [
        'fanout',
        'first offer / rollout.create returned',
        `${ms(fanout.offerFirstMs)} / ${ms(fanout.createMs)}`,
      ],
      ['fanout', 'all succeeded', ms(fanout.allSucceededMs)],
      [
        'fanout',
        'Redis per delivery: round trips (MONITOR) / commands (scripts’ included)',
        `${fanout.roundTrips.redisRoundTripsPerDelivery} / ${fanout.redisCommandsPerDelivery}`,
      ],
      [
        'fanout',
        `CPU per delivery: pods / Redis / ${fanout.cameras} cameras; Redis commands`,
        costRow(fanout),
      ],
    );
  }
  if (memory) {
    table.push(
      ['memory', `pod RSS per device (${memory.devices} devices)`, bytes(memory.podBytesPerDevice)],
      ['memory', 'pod heap per device', bytes(memory.podHeapBytesPerDevice)],
      ['memory', `camera process RSS per device (${cameras})`, bytes(memory.simBytesPerDevice)],
      [
        'memory',
        `floor: bare ws / bare tRPC + 1 subscription (${memory.floor.connections} clients)`,
        `${bytes(memory.floor.wsBytesPerConnection)} / ${bytes(memory.floor.trpcBytesPerSubscribedClient)}`,
      ],
    );
  }
  if (reconnect) {
    table.push(
      [
        'reconnect',
        `${reconnect.devices} devices of a killed pod resubscribed`,
        ms(reconnect.allResubscribedMs),
      ],
      [
        'reconnect',
        'their pending work: all offered / all succeeded',
        `${ms(reconnect.allOfferedMs)} / ${ms(reconnect.allSucceededMs)}`,
      ],
      [
        'reconnect',
        `per device, kill → all succeeded: CPU pods / Redis / ${reconnect.cameras} cameras; Redis commands`,
        costRow(reconnect),
      ],
    );
  }
  if (onepod) {
    for (const run of [onepod.lean, onepod.sim])
      table.push(
        [
          'onepod',
          `${run.cameras}: offer p50 / p99, ${onepod.devices} devices, 1 pod${runs(run.runs.length)}`,
          `${ms(run.offerP50Ms)} / ${ms(run.offerP99Ms)}`,
        ],
        ['onepod', `${run.cameras}: all succeeded`, ms(run.allSucceededMs)],
        ['onepod', `${run.cameras}: CPU per delivery: pod / Redis / cameras; Redis commands`, costRow(run)],
      );
  }
  if (lua) {
    const phase = (name: string, cost: PhaseCost) => [
      'lua',
      `Redis alone, ${name}: µs / commands per delivery`,
      `${us(cost.redisCpuUsPerDelivery)} / ${cost.redisCommandsPerDelivery}`,
    ];
    table.push(
      phase(`${lua.devices} devices, attach`, lua.attach),
      phase('claim (offer_claim_many, for what the attach queued)', lua.claim),
      phase('report (succeeded)', lua.report),
      phase('total', lua.total),
      [
        'lua',
        'Redis memory per delivery (after one rollout)',
        `${lua.redisBytesPerDelivery.toLocaleString('en-US')} B`,
      ],
    );
  }
  if (store) {
    const where = store.redis === 'cluster' ? `a ${store.masters}-master Cluster` : 'one Redis';
    const n = store.devices.toLocaleString('en-US');
    table.push(
      [
        'store',
        `${n} devices on ${where}: imported / connected in`,
        `${store.importSeconds} s / ${store.connectSeconds} s`,
      ],
      [
        'store',
        'Redis memory per idle device: offline / connected',
        `${bytes(store.idleBytesPerDevice.offline)} / ${bytes(store.idleBytesPerDevice.connected)}`,
      ],
      [
        'store',
        `rollout.preview: a selector (${store.preview.exact ? 'exact' : 'scaled from a sample'}) / all, answered in`,
        `${ms(store.preview.selectorMs)} / ${ms(store.preview.allMs)}`,
      ],
      ['store', 'rollout.create to all: answered in', ms(store.createMs)],
      [
        'store',
        'attach (4 pods share it): every bucket in / Redis CPU per device',
        `${store.attachSeconds} s / ${us(store.attachRedisCpuUsPerDevice)}`,
      ],
      [
        'store',
        'every delivery succeeded (a batched driver plays the devices) in',
        `${store.drainSeconds} s`,
      ],
      ['store', 'Redis CPU per delivery (attach, claims, reports)', us(store.redisCpuUsPerDelivery)],
      [
        'store',
        'Redis memory the finished rollout keeps, per device (all of it)',
        bytes(store.rolloutBytesPerDevice),
      ],
      [
        'store',
        'of which each device keeps (compacted delivery + index, MEMORY USAGE) / event streams (bounded)',
        `${bytes(store.deviceBytesPerRollout)} / ${(store.eventStreamBytes / 1e6).toFixed(1)} MB`,
      ],
      [
        'store',
        'canceled, its finished deliveries removed (retention) in / memory left per device',
        `${store.purgeSeconds} s / ${bytes(store.purgedBytesPerDevice)}`,
      ],
    );
  }
  const lean = report.generator?.lean;
  if (lean) {
    const refused = Object.values(lean.reportErrors).reduce((a, b) => a + b, 0);
    table.push([
      'generator',
      'lean cameras: offers / reports answered succeeded / refused / PONGs / reconnect notices',
      `${lean.offers} / ${lean.reportsSucceeded} / ${refused} / ${lean.pongs} / ${lean.reconnectNotices}`,
    ]);
  }
  if (throttled) {
    table.push(
      ['throttled', `rate (limit ${throttled.limitPerMinute}/min)`, `${throttled.measuredPerMinute}/min`],
      ['throttled', `max in flight (cap ${throttled.maxInFlight})`, String(throttled.maxInFlightSeen)],
    );
  }
  if (soak) {
    const faults = Object.entries(soak.faults)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(', ');
    const errors = Object.entries(soak.errors)
      .map(([kind, n]) => `${n} ${kind}`)
      .join('; ');
    table.push(
      [
        'soak',
        `${soak.minutes} min, ${soak.devices} cameras: rollouts / deliveries (per minute); faults`,
        `${soak.rollouts} / ${soak.deliveries} (${soak.deliveriesPerMinute}); ${faults}`,
      ],
      [
        'soak',
        'pod RSS median, first / last fifth after the warm-up; Redis growth (per rollout)',
        `${soak.podRssMedianMiB ? `${soak.podRssMedianMiB.afterWarmUp} / ${soak.podRssMedianMiB.atEnd} MiB` : '—'}; ${soak.redisGrowthMiB} MiB (${bytes(soak.redisBytesPerRollout)})`,
      ],
      ['soak', 'errors by kind', errors || 'none'],
    );
  }
  if (idle) {
    const watched = `${idle.dashboards} dashboards`;
    table.push(
      [
        'idle',
        `${idle.devices} idle devices: pods CPU per second, alone / ${watched}`,
        `${idle.podCpuMsPerSecondAlone} / ${idle.podCpuMsPerSecondWatched} ms`,
      ],
      [
        'idle',
        `Redis CPU per second; commands per second, alone / ${watched}`,
        `${idle.redisCpuMsPerSecondAlone} / ${idle.redisCpuMsPerSecondWatched} ms; ${idle.redisCommandsPerSecondAlone} / ${idle.redisCommandsPerSecondWatched}`,
      ],
    );
  }
  if (hostile) {
    const followers = `${hostile.connections}×${hostile.subscriptionsPerConnection}`;
    table.push(
      [
        'hostile',
        `Redis commands/s: 1 follower / ${followers}`,
        `${hostile.redisCommandsPerSecondOne} / ${hostile.redisCommandsPerSecondFlood}`,
      ],
      [
        'hostile',
        `pod RSS: before / ${followers} following`,
        `${mib(hostile.podRssBeforeBytes)} / ${mib(hostile.podRssFloodBytes)}`,
      ],
      [
        'hostile',
        `fleet.stats p50 / p99: 1 follower / ${followers}`,
        `${ms(hostile.statsP50OneMs)} / ${ms(hostile.statsP99OneMs)} — ${ms(hostile.statsP50FloodMs)} / ${ms(hostile.statsP99FloodMs)}`,
      ],
    );
  }
  if (ddi) {
    table.push(
      ['ddi', `polls of ${ddi.controllers} idle controllers, one pod`, `${ddi.pollsPerSecond}/s`],
      [
        'ddi',
        'per 1000 polls: pod CPU / Redis CPU / Redis commands per poll',
        `${ms(ddi.podCpuMsPer1000Polls)} / ${ms(ddi.redisCpuMsPer1000Polls)} / ${ddi.redisCommandsPerPoll}`,
      ],
      [
        'ddi',
        '10,000 controllers every 60 s: polls/s, share of one pod core',
        `${ddi.at10kEvery60s.pollsPerSecond}/s, ${(ddi.at10kEvery60s.podCoreShare * 100).toFixed(1)} %`,
      ],
    );
  }
  if (artifacts) {
    const label = (run: ArtifactRun) => (run.presigned ? 'presigned' : 'pod-served');
    table.push([
      'artifacts',
      `artifact size; ${artifacts.devices} deliveries per run, ${artifacts.pods} pods`,
      `${mib(artifacts.artifactBytes)} (${artifacts.artifactBytes.toLocaleString('en-US')} B)`,
    ]);
    for (const run of [artifacts.presigned, artifacts.podServed])
      table.push(
        [
          'artifacts',
          `${label(run)}: per delivery, bytes through the pods (${percentOf(run.bytesThroughPodsPerDelivery, artifacts.artifactBytes)} of the artifact) / received by the camera`,
          `${run.bytesThroughPodsPerDelivery.toLocaleString('en-US')} B / ${run.bytesDownloadedPerDelivery.toLocaleString('en-US')} B`,
        ],
        [
          'artifacts',
          `${label(run)}: all ${run.deliveries} succeeded / pod CPU per 1000 deliveries`,
          `${ms(run.allSucceededMs)} / ${ms(run.podCpuMsPer1000)}`,
        ],
      );
  }
  for (const master of report.redis?.masters ?? []) {
    if (report.redis?.mode !== 'cluster') break;
    table.push([
      'redis',
      `master ${master.node}: keys / commands / CPU`,
      `${master.keys.toLocaleString('en-US')} / ${master.commands.toLocaleString('en-US')} / ${ms(master.cpuMs)}`,
    ]);
  }
  for (const spread of report.redis?.bucketSpread ?? [])
    table.push([
      'redis',
      `${spread.buckets} buckets per master`,
      `${spread.perMaster.join(' / ')} (max/mean ${spread.maxOverMean})`,
    ]);
  return table.toString();
}
