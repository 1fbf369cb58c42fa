import { Command, InvalidArgumentError, Option } from 'commander';
import type { CameraKind } from './lean-camera.js';

export const SCENARIOS = [
  'connect',
  'fanout',
  'memory',
  'hostile',
  'ddi',
  'reconnect',
  'throttled',
  'artifacts',
  'onepod',
  'lua',
  'idle',
  'soak',
  'store',
] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** Cameras in each of the artifacts scenario's two fleets at most: enough to load the store, quick. */
export const ARTIFACT_DEVICES_MAX = 1_000;
/** Cameras of the onepod scenario at most (issue #21: 1,000 over one pod), and its runs per camera. */
export const ONEPOD_DEVICES_MAX = 1_000;
export const ONEPOD_RUNS = 5;
/** Devices of the lua scenario at most (Redis alone: enough for steady per-delivery figures). */
export const LUA_DEVICES_MAX = 10_000;
/** Devices with sockets at most (one box); the store scenario, which has none, takes up to STORE_DEVICES_MAX. */
export const SOCKET_DEVICES_MAX = 200_000;
export const STORE_DEVICES_MAX = 2_000_000;
/**
 * What runs without --scenario: all but artifacts (two more fleets and GiBs through s3rver), soak
 * (minutes of rollouts under faults) and store (a fleet as large as Redis holds): those are opt-in.
 */
export const DEFAULT_SCENARIOS: readonly Scenario[] = SCENARIOS.filter(
  (s) => s !== 'artifacts' && s !== 'soak' && s !== 'store',
);

export interface BenchOptions {
  devices: number;
  pods: number;
  sims: number;
  /** The main group's camera in connect, fanout, memory and reconnect: lean generator or simulator. */
  cameras: CameraKind;
  scenarios: Scenario[];
  /** Runs of connect and fan-out; the figures are their medians. */
  repeat: number;
  throttledDevices: number;
  throttledApplyMs: number;
  maxPerMinute: number;
  maxInFlight: number;
  logLevel: string;
  out: string | null;
  /** Write CPU profiles of pods and simulators here (node --cpu-prof). */
  cpuProfDir: string | null;
  /** One Redis instance, or a Redis Cluster of `clusterMasters` masters (no replicas). */
  redis: 'single' | 'cluster';
  clusterMasters: number;
  /** The artifacts scenario's artifact, in MiB. */
  artifactMib: number;
  /** The idle scenario's two windows (alone, then watched), in seconds each. */
  idleSeconds: number;
  /** How long the soak scenario runs. */
  minutes: number;
}

function positive(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected an integer 1..${max}`);
    return n;
  };
}

/** Minutes, fractions allowed (a half-minute soak for the smoke test), from 0.25 to `max`. */
function minutesArg(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0.25 || n > max)
      throw new InvalidArgumentError(`expected minutes from 0.25 to ${max}`);
    return n;
  };
}

function scenarioList(value: string): Scenario[] {
  const names = value.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name))
      throw new InvalidArgumentError(`unknown scenario "${name}" (one of ${SCENARIOS.join(', ')})`);
  }
  return names as Scenario[];
}

/** `pnpm bench` flags → options; commander prints usage and exits on bad flags. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const program = new Command('bench')
    .description('camfleet at fleet scale: real Redis, pods and simulated cameras on this machine')
    .addOption(
      new Option(
        '--devices <n>',
        `cameras in the main group (up to ${SOCKET_DEVICES_MAX.toLocaleString('en-US')}; the store scenario alone: ${STORE_DEVICES_MAX.toLocaleString('en-US')})`,
      )
        .argParser(positive(STORE_DEVICES_MAX))
        .default(10_000),
    )
    .addOption(new Option('--pods <n>', 'server pods (processes)').argParser(positive(16)).default(2))
    .addOption(
      new Option('--sims <n>', 'simulator processes (each ≤ 19k sockets, own source address)').argParser(
        positive(64),
      ),
    )
    .addOption(
      new Option(
        '--cameras <kind>',
        'the main cameras (connect, fanout, memory, reconnect): lean = pre-encoded frames over raw ws, sim = the full device simulator',
      )
        .choices(['lean', 'sim'])
        .default('lean'),
    )
    .addOption(
      new Option(
        '--scenario <list>',
        `comma-separated: ${SCENARIOS.join(',')} (artifacts only when named: an s3rver and two more fleets of min(devices, ${ARTIFACT_DEVICES_MAX}) cameras, presigned and pod-served downloads; onepod: a fleet of its own, min(devices, ${ONEPOD_DEVICES_MAX}) cameras on one pod, ${ONEPOD_RUNS} fan-outs with each kind of camera)`,
      )
        .argParser(scenarioList)
        .default([...DEFAULT_SCENARIOS], 'all but artifacts'),
    )
    .addOption(
      new Option('--minutes <n>', 'how long the soak scenario runs')
        .argParser(minutesArg(24 * 60))
        .default(1),
    )
    .addOption(
      new Option('--idle-seconds <n>', 'each window of the idle scenario (alone, then watched)')
        .argParser(positive(3600))
        .default(10),
    )
    .addOption(
      new Option('--repeat <n>', 'runs of connect and fanout (median)').argParser(positive(20)).default(3),
    )
    .addOption(
      new Option('--throttled-devices <n>', 'cameras in the throttled group')
        .argParser(positive(1000))
        .default(200),
    )
    .addOption(
      new Option('--throttled-apply-ms <ms>', 'their install time').argParser(positive(60_000)).default(300),
    )
    .addOption(
      new Option('--max-per-minute <n>', 'throttled rate limit').argParser(positive(1_000_000)).default(3000),
    )
    .addOption(
      new Option('--max-in-flight <n>', 'throttled in-flight cap').argParser(positive(100_000)).default(20),
    )
    .addOption(new Option('--log-level <level>', 'pods’ LOG_LEVEL').default('info'))
    .option('--out <file>', 'write the results as JSON here')
    .option('--cpu-prof <dir>', 'write CPU profiles of the pods and simulators to this directory')
    .addOption(
      new Option(
        '--redis <engine>',
        'one Redis instance, or a Redis Cluster (keys and ops per master reported)',
      )
        .choices(['single', 'cluster'])
        .default('single'),
    )
    .addOption(
      new Option('--cluster-masters <n>', 'masters of the cluster').argParser(positive(16)).default(3),
    )
    .addOption(
      new Option('--artifact-mib <n>', 'the artifacts scenario’s artifact size (MiB)')
        .argParser(positive(64))
        .default(2),
    )
    .exitOverride()
    .parse(argv, { from: 'user' });
  type Flags = Omit<BenchOptions, 'sims' | 'scenarios' | 'out' | 'cpuProfDir'> & {
    sims?: number;
    scenario: Scenario[];
    out?: string;
    cpuProf?: string;
  };
  const o = program.opts<Flags>();
  if (o.devices > SOCKET_DEVICES_MAX && o.scenario.some((s) => s !== 'store' && s !== 'lua'))
    program.error(
      `error: --devices above ${SOCKET_DEVICES_MAX.toLocaleString('en-US')} is for --scenario store (no sockets) only`,
      { exitCode: 64 },
    );
  return {
    devices: o.devices,
    pods: o.pods,
    cameras: o.cameras,
    // At most ~12.5k sockets a simulator by default: well under the per-process file limit.
    sims: o.sims ?? Math.max(2, Math.ceil(o.devices / 12_500)),
    scenarios: o.scenario,
    repeat: o.repeat,
    throttledDevices: o.throttledDevices,
    throttledApplyMs: o.throttledApplyMs,
    maxPerMinute: o.maxPerMinute,
    maxInFlight: o.maxInFlight,
    logLevel: o.logLevel,
    out: o.out ?? null,
    cpuProfDir: o.cpuProf ?? null,
    redis: o.redis,
    clusterMasters: o.clusterMasters,
    artifactMib: o.artifactMib,
    idleSeconds: o.idleSeconds,
    minutes: o.minutes,
  };
}
