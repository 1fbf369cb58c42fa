import { type ChildProcess, fork } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAdminClient } from '@camfleet/client';
import { mastersOf, type RedisClient } from '@camfleet/redis';
import { loadConfig } from '@camfleet/server';
import {
  connectTestRedis,
  freePort,
  PodProcess,
  RedisClusterServer,
  RedisServer,
  TEST_TOKENS,
  type TestRedis,
} from '@camfleet/test-support';
import type { CameraKind } from './lean-camera.js';
import type { Command, Reply, Request, Response, SignaturePolicy, SimConfig } from './protocol.js';

/** The reply a command gets (same `type`). */
type ReplyTo<C extends Command> = Extract<Reply, { type: C['type'] }>;

export interface ClusterOptions {
  pods: number;
  sims: number;
  /** Main devices in all; split evenly over the simulators. */
  devices: number;
  /** The main devices' camera: the lean generator or the full device simulator. */
  cameras: CameraKind;
  throttledDevices: number;
  throttledApplyMs: number;
  logLevel: string;
  cpuProfDir: string | null;
  redis: 'single' | 'cluster';
  clusterMasters: number;
  /** More pod environment (the artifacts scenario: the S3 store, presigning on or off). */
  podEnv?: Record<string, string>;
  /** The pods' FLEET_NODE_ID is `<podName>-<n>` (default bench-pod). */
  podName?: string;
  /** What the cameras trust and require of a patch's signature (default: nothing checked). */
  signatures?: SignaturePolicy;
}

/**
 * CPU time (user + system) and resident memory of a process, from /proc: the CPU time to the
 * nanosecond from the scheduler's accounting of each of its threads (`task/<tid>/schedstat`), else
 * in clock ticks of 10 ms (`stat`), too coarse for a window of a few dozen deliveries.
 */
export async function processUsage(pid: number): Promise<{ cpuMs: number; rssBytes: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: await threadsCpuMs(pid).catch(() => ticksCpuMs(pid)), rssBytes: rssKb * 1024 };
}

async function threadsCpuMs(pid: number): Promise<number> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const ns = await Promise.all(
    tasks.map(async (tid) => {
      // A thread that ended meanwhile counts nothing (Node's threads live as long as the process).
      const text = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
      return Number(text.split(' ')[0]);
    }),
  );
  return ns.reduce((a, b) => a + b, 0) / 1e6;
}

async function ticksCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A simulator process, driven over IPC. */
export class SimProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(
    readonly child: ChildProcess,
    readonly config: SimConfig,
  ) {
    child.on('message', (response: Response) => {
      this.pending.get(response.id)?.(response.reply);
      this.pending.delete(response.id);
    });
  }

  static async start(config: SimConfig, nodeArgs: readonly string[]): Promise<SimProcess> {
    const child = fork(join(import.meta.dirname, 'sim-worker.ts'), [], {
      // Thousands of simulated cameras: more heap than Node's default limit. The lean cameras' garbage
      // is a few short-lived strings and buffers a frame: a bigger young generation scavenges less.
      execArgv: [
        ...nodeArgs,
        '--max-old-space-size=8192',
        // The worker collects the setup's garbage before anything is measured.
        '--expose-gc',
        ...(config.cameras === 'lean' ? ['--max-semi-space-size=32'] : []),
        '--import',
        'tsx',
      ],
      env: { ...process.env, BENCH_SIM: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const sim = new SimProcess(child, config);
    await new Promise<void>((resolve, reject) => {
      sim.pending.set(0, () => resolve());
      child.once('exit', (code) =>
        reject(new Error(`simulator ${config.index} exited (${code}) before it was ready`)),
      );
    });
    return sim;
  }

  /** Lets the process go (it exits when its IPC channel closes); kill -9 if it lingers. */
  async exit(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Sends a command; resolves with the reply of the same type, rejects on an error reply. */
  request<C extends Command>(command: C): Promise<ReplyTo<C>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        if (reply.type === 'error') reject(new Error(`simulator ${this.config.index}: ${reply.message}`));
        else resolve(reply as ReplyTo<C>);
      });
      this.child.send({ id, command } satisfies Request);
    });
  }
}

export interface RedisCounters {
  cpuMs: number;
  calls: Record<string, number>;
  keys: number;
}

function countersOf(info: string): RedisCounters {
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  const calls: Record<string, number> = {};
  for (const [, command, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    calls[command ?? ''] = Number(count);
  const keys = [...info.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((sum, [, n]) => sum + Number(n), 0);
  return { cpuMs: (field('used_cpu_sys') + field('used_cpu_user')) * 1000, calls, keys };
}

/** Cameras per source address at most: under the pods' 2,000 sockets waiting to authenticate per address. */
export const CAMERAS_PER_ADDRESS = 1_500;

/** The tenant of the pods' DDI API (the ddi scenario). */
export const DDI_TENANT = 'bench';

/** Redis, K pods and S simulator processes, all real processes on this machine. */
/**
 * Waits for every start, the failed ones too (so none is still starting when the caller cleans
 * up), records in `into` the processes that started, then fails with the first failure.
 */
async function allStarted<T>(into: T[], starts: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  for (const result of settled) if (result.status === 'fulfilled') into.push(result.value);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return into;
}

export class Cluster {
  private constructor(
    readonly redis: TestRedis,
    readonly redisClient: RedisClient,
    readonly pods: PodProcess[],
    readonly sims: SimProcess[],
    readonly admin: ReturnType<typeof createAdminClient>,
    readonly cameras: CameraKind,
    /** How the pods were started: a restarted pod gets the same. */
    private readonly podStart: { names: string[]; env: Record<string, string>; nodeArgs: string[] },
  ) {}

  static async up(options: ClusterOptions): Promise<Cluster> {
    const redis =
      options.redis === 'cluster'
        ? await RedisClusterServer.start({
            masters: options.clusterMasters,
            replicasPerMaster: 0,
            appendOnly: true,
          })
        : await RedisServer.start({ appendOnly: true });
    // The server's own defaults (PodProcess starts pods with short test timings otherwise).
    const defaults = loadConfig({ FLEET_ADMIN_TOKEN: TEST_TOKENS.admin });
    const podEnv = {
      LOG_LEVEL: options.logLevel,
      FLEET_SWEEP_INTERVAL_MS: String(defaults.sweepIntervalMs),
      FLEET_LEASE_MS: String(defaults.leaseMs),
      FLEET_SHUTDOWN_GRACE_MS: String(defaults.shutdownGraceMs),
      // The hostile scenario measures the shared event feed under 50 × 10 followers of one token:
      // let the token hold them (by default a pod refuses it past 20 connections, 50 subscriptions).
      FLEET_MAX_CONNECTIONS_PER_TOKEN: '100',
      FLEET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '1000',
      // The ddi scenario's controllers poll the pods' hawkBit DDI API.
      FLEET_DDI_TENANT: DDI_TENANT,
      ...options.podEnv,
    };
    const nodeArgs = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
    const started: { pods: PodProcess[]; sims: SimProcess[] } = { pods: [], sims: [] };
    try {
      return await Cluster.start(options, redis, podEnv, nodeArgs, started);
    } catch (error) {
      // A process that failed to start takes the ones that did with it: none outlives the bench.
      await Promise.allSettled([
        ...started.sims.map((sim) => sim.exit()),
        ...started.pods.map((pod) => pod.kill('SIGKILL')),
      ]);
      await redis.destroy();
      throw error;
    }
  }

  private static async start(
    options: ClusterOptions,
    redis: TestRedis,
    podEnv: Record<string, string>,
    nodeArgs: string[],
    started: { pods: PodProcess[]; sims: SimProcess[] },
  ): Promise<Cluster> {
    const names = Array.from(
      { length: options.pods },
      (_, i) => `${options.podName ?? 'bench-pod'}-${i + 1}`,
    );
    const pods = await allStarted(
      started.pods,
      names.map(async (name) =>
        PodProcess.start(
          redis.url,
          name,
          { ...podEnv, PORT: String(await freePort()) },
          TEST_TOKENS,
          nodeArgs,
        ),
      ),
    );
    const urls = pods.map((pod) => pod.url);
    const share = (total: number, i: number) =>
      Math.floor(total / options.sims) + (i < total % options.sims ? 1 : 0);
    // 127.0.0.2, .3, …: each source address has its own ~28k ephemeral ports, and a pod lets at most
    // FLEET_MAX_UNAUTHENTICATED_PER_ADDRESS (2,000) sockets of one address wait to authenticate: a
    // process gets as many addresses as keep it under CAMERAS_PER_ADDRESS, so a connect storm is
    // not refused with 429 for an artifact of the benchmark (a real fleet connects from many).
    let nextAddress = 2;
    const addressesOf = (cameras: number) =>
      Array.from(
        { length: Math.max(1, Math.ceil(cameras / CAMERAS_PER_ADDRESS)) },
        () => `127.0.0.${nextAddress++}`,
      );
    const addresses = Array.from({ length: options.sims }, (_, i) =>
      addressesOf(share(options.devices, i) + share(options.throttledDevices, i)),
    );
    if (nextAddress > 255) throw new Error('more cameras than 254 loopback addresses hold');
    const sims = await allStarted(
      started.sims,
      Array.from({ length: options.sims }, (_, i) =>
        SimProcess.start(
          {
            index: i + 1,
            // Each simulator starts on its own pod, so devices spread evenly whatever the counts.
            urls: [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)],
            devices: share(options.devices, i),
            cameras: options.cameras,
            throttledDevices: share(options.throttledDevices, i),
            throttledApplyMs: options.throttledApplyMs,
            localAddresses: addresses[i] ?? [],
            enrollToken: TEST_TOKENS.enroll,
            ...(options.signatures ? { signatures: options.signatures } : {}),
          },
          nodeArgs,
        ),
      ),
    );
    const redisClient = connectTestRedis(redis.url);
    await redisClient.ping();
    const admin = createAdminClient(pods[0]?.url ?? '', TEST_TOKENS.admin);
    return new Cluster(redis, redisClient, pods, sims, admin, options.cameras, {
      names,
      env: podEnv,
      nodeArgs,
    });
  }

  /** Asks every simulator, in parallel. */
  all<C extends Command>(command: C): Promise<ReplyTo<C>[]> {
    return Promise.all(this.sims.map((sim) => sim.request(command)));
  }

  /** Each pod's CPU time and RSS (zeros for a pod that is gone). */
  async podsUsage(): Promise<{ cpuMs: number; rssBytes: number }[]> {
    return Promise.all(
      this.pods.map((pod) => processUsage(pod.child.pid ?? 0).catch(() => ({ cpuMs: 0, rssBytes: 0 }))),
    );
  }

  /** Redis's CPU time and calls per command so far (INFO), summed over the masters. */
  async redisCounters(): Promise<RedisCounters> {
    const total: RedisCounters = { cpuMs: 0, calls: {}, keys: 0 };
    for (const { counters } of await this.redisMasters()) {
      total.cpuMs += counters.cpuMs;
      total.keys += counters.keys;
      for (const [command, n] of Object.entries(counters.calls))
        total.calls[command] = (total.calls[command] ?? 0) + n;
    }
    return total;
  }

  /** Each master's counters: how a cluster spreads keys and work. */
  async redisMasters(): Promise<Array<{ node: string; counters: RedisCounters }>> {
    return Promise.all(
      mastersOf(this.redisClient).map(async (master) => ({
        node: `${master.options.host}:${master.options.port}`,
        counters: countersOf(await master.info('all')),
      })),
    );
  }

  /** kill -9 of pod `i`. */
  async kill(i: number): Promise<void> {
    await this.pods[i]?.kill('SIGKILL');
  }

  /** kill -9 of pod `i`, then a new pod process in its place: the same port, name and settings. */
  async restartPod(i: number): Promise<void> {
    const old = this.pods[i];
    if (!old) throw new Error(`no pod ${i}`);
    await old.kill('SIGKILL');
    const { names, env, nodeArgs } = this.podStart;
    this.pods[i] = await PodProcess.start(
      this.redis.url,
      names[i] ?? `bench-pod-${i + 1}`,
      { ...env, PORT: new URL(old.url).port },
      TEST_TOKENS,
      nodeArgs,
    );
  }

  async down(): Promise<void> {
    this.admin.close();
    await Promise.allSettled(this.sims.map((sim) => sim.request({ type: 'stop' })));
    // Gentle exits, so `--cpu-prof` (in NODE_OPTIONS) can write its profiles.
    await Promise.all([
      ...this.sims.map((sim) => sim.exit()),
      ...this.pods.map((pod) => pod.kill('SIGTERM')),
    ]);
    this.redisClient.disconnect();
    await this.redis.destroy();
  }
}
