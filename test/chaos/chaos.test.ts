import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminClient } from '@camfleet/client';
import type { DeliveryState, RolloutStatus } from '@camfleet/contracts';
import {
  type Failover,
  freePort,
  PodProcess,
  RedisClusterServer,
  RedisSentinelServer,
  RedisServer,
  runFleet,
  slotsOf,
  startSim,
  TEST_TOKENS,
  type TestRedis,
  waitFor,
} from '@camfleet/test-support';
import { describe, expect, it, vi } from 'vitest';

vi.setConfig({ testTimeout: 300_000 });

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEVICES = 200;
const CHAOS_MS = Number(process.env.CHAOS_MS ?? 20_000);

type Topology = 'single' | 'cluster' | 'sentinel';
type Fault = 'kill' | 'drain' | 'redis-restart' | 'redis-stall' | 'master-kill' | 'reshard';

/**
 * Redis as each topology runs it, and the faults drawn for it (a pod `kill` twice as likely as the
 * rest). Cluster (3 masters, a replica each) and Sentinel (a master and 2 replicas, passwords on
 * data nodes and Sentinels) lose their master to SIGKILL; a replica takes over and the old master
 * comes back as a replica in the background. Their pods acknowledge an outcome only once a replica
 * has it (FLEET_REDIS_WAIT_REPLICAS=1), so no accepted report is lost in a failover. A Cluster
 * also has slots moved between masters under the running rollout (`reshard`).
 */
interface Setup {
  redis: TestRedis;
  podEnv: Record<string, string>;
  faults: readonly Fault[];
  /** Kills the master; resolves when a replica took over (the old master rejoins meanwhile). */
  killMaster?: () => Promise<void>;
  /** Moves slots holding buckets to another master; says what it moved. */
  reshard?: (random: () => number) => Promise<string>;
  /** How long a `redis-stall` freezes the data nodes: [shortest, longest] ms (default 1.5–3.5 s). */
  stallMs?: [number, number];
}

/** killMaster for a set that can revive its dead node: one revival at a time. */
function killingMasters(redis: {
  killMaster(): Promise<Failover>;
  reviveNode(port: number): Promise<void>;
}): { killMaster: () => Promise<void>; revived: () => Promise<void> } {
  let revived: Promise<void> = Promise.resolve();
  return {
    killMaster: async () => {
      await revived;
      const { killedPort } = await redis.killMaster();
      revived = redis.reviveNode(killedPort);
    },
    revived: () => revived,
  };
}

/** The buckets' hash tags (keys.ts: `{b<n>}`, 64 of them) and the fleet-wide one. */
const HASH_TAGS = [...Array.from({ length: 64 }, (_, n) => `{b${n}}`), '{g}'];

/**
 * `redis-cli --cluster reshard` from a random master to another, of as many slots as it takes to
 * move every slot of it that camfleet's keys live in (it moves a master's lowest slots first). Waits for
 * a dead master's revival first: a slot that moves while its owner fails over is left half-moved,
 * for an operator's `redis-cli --cluster fix`.
 */
function reshardingBuckets(redis: RedisClusterServer, revived: () => Promise<void>) {
  return async (random: () => number): Promise<string> => {
    await revived();
    const used = new Set(await redis.keySlots(HASH_TAGS));
    const masters = await redis.masters();
    const from = masters[Math.floor(random() * masters.length)];
    const others = masters.filter((master) => master !== from);
    const to = others[Math.floor(random() * others.length)];
    if (!from || !to) return 'nothing (fewer than two masters)';
    const owned = slotsOf(from);
    const usedAt = owned.flatMap((slot, i) => (used.has(slot) ? [i] : []));
    const last = usedAt.at(-1);
    if (last === undefined) return `nothing (${from.port} holds no bucket)`;
    const started = performance.now();
    await redis.reshard(from.port, to.port, last + 1);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return `${last + 1} slots (${usedAt.length} in use) ${from.port}>${to.port} in ${seconds} s`;
  };
}

async function setUp(topology: Topology): Promise<Setup> {
  if (topology === 'single') {
    const redis = await RedisServer.start({ appendOnly: true });
    return { redis, podEnv: {}, faults: ['kill', 'drain', 'redis-restart', 'redis-stall', 'kill'] };
  }
  const faults: Fault[] = ['kill', 'drain', 'master-kill', 'redis-stall', 'kill'];
  const replicated = { FLEET_REDIS_WAIT_REPLICAS: '1' };
  if (topology === 'cluster') {
    const redis = await RedisClusterServer.start({ appendOnly: true });
    const { killMaster, revived } = killingMasters(redis);
    return {
      redis,
      podEnv: replicated,
      faults: [...faults, 'reshard'],
      killMaster,
      reshard: reshardingBuckets(redis, revived),
    };
  }
  // Two replicas: with one, the set has none from a failover until the old master is back, and
  // every outcome is refused meanwhile (not confirmed); cameras would time out and retry.
  const redis = await RedisSentinelServer.start({
    appendOnly: true,
    replicas: 2,
    downAfterMs: 1_000,
    password: 'chaos-sentinel-pw',
  });
  return {
    redis,
    podEnv: { ...replicated, ...redis.podEnv },
    faults,
    killMaster: killingMasters(redis).killMaster,
    // Freezes shorter than down-after-milliseconds: a longer one is a split brain (the old master
    // thaws and runs on while the Sentinels promote a replica), in which Redis itself drops writes
    // a replica had confirmed (README, "How many replicas to wait for"). Failovers come from kills.
    stallMs: [200, 500],
  };
}

const TOPOLOGIES = (process.env.CHAOS_TOPOLOGY ?? 'single,cluster,sentinel').split(',') as Topology[];

describe.each(TOPOLOGIES)('chaos on %s Redis', (topology) => {
  it('loses nothing while pods are killed and drained, and Redis fails, restarts and stalls', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = seeded(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const log: string[] = [`seed ${seed} on ${topology}`];
    const {
      redis,
      podEnv,
      faults: drawn,
      killMaster,
      reshard,
      stallMs = [1500, 3500],
    } = await setUp(topology);
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const start = (i: number) =>
      PodProcess.start(redis.url, `chaos${i + 1}`, {
        PORT: String(ports[i]),
        FLEET_LEASE_MS: '3000',
        FLEET_SHUTDOWN_GRACE_MS: '1500',
        ...podEnv,
      });
    const pods = await Promise.all([0, 1, 2].map(start));
    // Every pod process of the run, killed ones too: their logs tell what the safety nets repaired.
    const everyPod = [...pods];
    const logLines = (msg: string) =>
      everyPod.flatMap((p) => p.output.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)));
    const logCount = (msg: string) => logLines(msg).length;
    // One line per reconcile pass that repaired anything, with how many it repaired.
    const repairedDevices = () =>
      logLines('session reconcile repaired connected devices').reduce(
        (n, line) => n + ((JSON.parse(line) as { repaired?: number }).repaired ?? 0),
        0,
      );
    const repairs = () =>
      `safety net: ${repairedDevices()} devices repaired by the session reconcile, ` +
      `${logCount('this pod was declared dead while alive; restoring its devices')} pods restored after being reaped while alive`;
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const admin = createAdminClient(urls[0] ?? '', TEST_TOKENS.admin);
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-chaos-'));
    const summaryFile = join(dir, 'sim-summary.json');
    const sim = startSim([
      '--url',
      urls.join(','),
      '--devices',
      String(DEVICES),
      '--credentials',
      join(dir, 'credentials.json'),
      '--summary',
      summaryFile,
      '--apply-ms',
      '1000',
      '--slow-rate',
      '0.3',
      '--slow-ms',
      '1500',
      '--fail-rate',
      '0.15',
      '--disconnect-rate',
      '0.02',
      '--reboot-ms',
      '100',
      '--quiet',
    ]);
    try {
      await waitFor(
        async () => (await admin.client.fleet.stats.query().catch(() => ({ online: 0 }))).online === DEVICES,
        {
          timeoutMs: 60_000,
          what: 'devices online',
        },
      );
      const patch = JSON.parse(
        (await runFleet(urls[1] ?? '', ['patch', 'publish', 'chaos-fw', '--version', '9.9.9', '--json']))
          .stdout,
      ) as { id: string; version: string };
      const created = await runFleet(urls[2] ?? '', [
        'rollout',
        'create',
        '--patch',
        patch.id,
        '--all',
        '--ack-timeout',
        '5s',
        '--max-attempts',
        '20',
        '--retry-base',
        '100ms',
        '--retry-max',
        '1s',
        // Deliveries trickle through the whole chaos window (and slots are leased across pod deaths).
        '--max-in-flight',
        '30',
        '--json',
      ]);
      const rollout = JSON.parse(created.stdout) as { id: string };
      const openAfterChaos = async () => {
        const s = await admin.client.rollout.get.query({ rolloutId: rollout.id }).catch(() => null);
        return s ? s.targeted - s.counts.succeeded - s.counts.failed : -1;
      };

      // The driver: seeded faults until the chaos window ends. Half-way, a topology's own fault that
      // was not drawn yet (a Cluster's reshard) comes next, so every run has it.
      const until = Date.now() + CHAOS_MS;
      const halfWay = until - CHAOS_MS / 2;
      const owed = new Set<Fault>(reshard ? ['reshard'] : []);
      while (Date.now() < until) {
        const fault = Date.now() >= halfWay && owed.size > 0 ? [...owed][0]! : pick(drawn);
        owed.delete(fault);
        const i = Math.floor(random() * pods.length);
        log.push(
          `${((CHAOS_MS - (until - Date.now())) / 1000).toFixed(1)}s ${fault}${fault === 'kill' || fault === 'drain' ? ` pod ${i + 1}` : ''}`,
        );
        if (fault === 'kill' || fault === 'drain') {
          await pods[i]?.kill(fault === 'kill' ? 'SIGKILL' : 'SIGTERM');
          pods[i] = await start(i);
          everyPod.push(pods[i]);
        } else if (fault === 'redis-restart') {
          await redis.restart('SIGTERM');
        } else if (fault === 'master-kill') {
          await killMaster?.();
        } else if (fault === 'reshard') {
          log.push(`${log.pop()}: ${await reshard?.(random)}`);
        } else {
          await redis.pause(stallMs[0] + Math.floor(random() * (stallMs[1] - stallMs[0])));
        }
        await new Promise((r) => setTimeout(r, 1000 + random() * 2000));
      }

      const faults = log.slice(1);
      log.push(`open deliveries when the chaos ended: ${await openAfterChaos()}`);
      // Then: everything settles, and every check holds.
      const live = createAdminClient(urls[0] ?? '', TEST_TOKENS.admin);
      const chaosEndedAt = Date.now();
      const final = await waitFor(
        async () => {
          const s = await live.client.rollout.get.query({ rolloutId: rollout.id }).catch(() => null);
          return s && s.status === 'completed' ? s : null;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: 'the rollout to settle after the chaos' },
      );
      log.push(`settled ${((Date.now() - chaosEndedAt) / 1000).toFixed(1)} s after the chaos`);
      await checkAgainstDevices(live, final, patch.version);
      sim.child.kill('SIGTERM');
      await sim.done;
      const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as Record<string, number>;
      expect(summary.installsRepeated).toBe(0);
      console.info(
        `[chaos] ${topology}, seed ${seed}: ${faults.length} faults (${faults
          .map((l) => l.split(' ').slice(1).join(' '))
          .join(', ')}); ${log.slice(-2).join('; ')}; ` +
          `${final.counts.succeeded} succeeded, ${final.counts.failed} failed of ${final.targeted}; ` +
          `${summary.reconnects} reconnects, ${summary.replaced} replaced, ${summary.reportsRejected} stale reports refused, 0 repeated installs; ` +
          repairs(),
      );
      live.close();
    } catch (error) {
      console.error(
        `[chaos] FAILED — replay with CHAOS_SEED=${seed} CHAOS_TOPOLOGY=${topology}\n${log.join('\n')}\n${repairs()}`,
      );
      console.error(await diagnose(urls[0] ?? '').catch((e: unknown) => `no diagnosis: ${String(e)}`));
      // What the pods warned about, by message: where the safety nets were needed, and what failed.
      const warnings = new Map<string, number>();
      for (const line of everyPod.flatMap((p) => p.output.split('\n'))) {
        const entry = /"level":(\d+).*"msg":"([^"]*)"/.exec(line);
        if (!entry || Number(entry[1]) < 40) continue;
        // An unconfirmed write says why WAIT fell short (its error, if it failed).
        const why = /"waitError":"([^"]*)"/.exec(line)?.[1];
        const key = why ? `${entry[2]} (${why})` : (entry[2] ?? '');
        warnings.set(key, (warnings.get(key) ?? 0) + 1);
      }
      console.error(`pod warnings: ${JSON.stringify(Object.fromEntries(warnings))}`);
      for (const url of urls) {
        const text = await (await fetch(`${url}/metrics`).catch(() => null))?.text();
        const lines = text
          ?.split('\n')
          .filter((l) => /^camfleet_(connected_devices|connections|hints_total|reconcile_errors)/.test(l));
        console.error(`${url}: ${lines?.join(' | ')}`);
      }
      sim.child.kill('SIGTERM');
      await sim.done;
      console.error(`simulator: ${await readFile(summaryFile, 'utf8').catch(() => 'no summary')}`);
      throw error;
    } finally {
      admin.close();
      sim.child.kill('SIGKILL');
      await Promise.all(pods.map((p) => p.kill('SIGKILL')));
      await redis.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Counters equal the per-device states, every delivery is final, and each outcome agrees with what
 * the device shows: succeeded ⇔ the device runs the patch version.
 */
async function checkAgainstDevices(
  admin: ReturnType<typeof createAdminClient>,
  status: RolloutStatus,
  version: string,
): Promise<void> {
  const tally: Partial<Record<DeliveryState, number>> = {};
  let cursor: string | null = null;
  let devices = 0;
  do {
    const page = await admin.client.devices.list.query({ limit: 500, cursor });
    for (const device of page.devices) {
      devices++;
      const detail = await admin.client.devices.get.query({ deviceId: device.id });
      const delivery = detail.deliveries.find((d) => d.rolloutId === status.id);
      expect(delivery, `${device.id} has a delivery`).toBeDefined();
      if (!delivery) continue;
      tally[delivery.state] = (tally[delivery.state] ?? 0) + 1;
      expect(['succeeded', 'failed']).toContain(delivery.state);
      expect(delivery.state === 'succeeded').toBe(detail.device.firmwareVersion === version);
    }
    cursor = page.nextCursor;
  } while (cursor);
  expect(devices).toBe(DEVICES);
  for (const [state, count] of Object.entries(status.counts))
    expect(tally[state as DeliveryState] ?? 0).toBe(count);
}

/** What is still open when a run fails: the rollout's counts and a few stuck devices' stories. */
async function diagnose(url: string): Promise<string> {
  const admin = createAdminClient(url, TEST_TOKENS.admin);
  try {
    const [rollout] = await admin.client.rollout.list.query({ limit: 1 });
    const lines = [`rollout ${rollout?.id}: ${JSON.stringify(rollout?.counts)}`];
    const page = await admin.client.devices.list.query({ limit: 500 });
    let shown = 0;
    for (const device of page.devices) {
      const detail = await admin.client.devices.get.query({ deviceId: device.id });
      const open = detail.deliveries.find((d) => d.state !== 'succeeded' && d.state !== 'failed');
      if (!open || shown++ >= 5) continue;
      lines.push(
        `${device.id} online=${device.online} node=${device.node} fw=${device.firmwareVersion} delivery=${JSON.stringify(open)}`,
        ...detail.history
          .slice(0, 6)
          .map((h) => `    ${h.at} ${h.from ?? '-'}>${h.to} #${h.attempt} ${h.error ?? ''}`),
      );
    }
    return lines.join('\n');
  } finally {
    admin.close();
  }
}
