import { createAdminClient } from '@camfleet/client';
import { TEST_TOKENS, waitFor } from '@camfleet/test-support';
import type { Cluster } from './cluster.js';
import { round } from './stats.js';

/** What an idle fleet costs per second, with nobody watching and with dashboards open. */
export interface IdleResult {
  devices: number;
  dashboards: number;
  windowMs: number;
  /** CPU ms per second of wall time: the pods together, and Redis (every master). */
  podCpuMsPerSecondAlone: number;
  podCpuMsPerSecondWatched: number;
  redisCpuMsPerSecondAlone: number;
  redisCpuMsPerSecondWatched: number;
  /** Redis commands per second, scripts' own commands counted. */
  redisCommandsPerSecondAlone: number;
  redisCommandsPerSecondWatched: number;
}

interface Rates {
  podCpuMsPerSecond: number;
  redisCpuMsPerSecond: number;
  redisCommandsPerSecond: number;
}

/** The pods' and Redis's CPU and Redis's commands over a window, per second. */
async function rates(cluster: Cluster, windowMs: number): Promise<Rates> {
  const read = async () => {
    const [pods, redis] = await Promise.all([cluster.podsUsage(), cluster.redisCounters()]);
    return {
      podCpuMs: pods.reduce((sum, p) => sum + p.cpuMs, 0),
      redisCpuMs: redis.cpuMs,
      commands: Object.values(redis.calls).reduce((a, b) => a + b, 0),
    };
  };
  const before = await read();
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = await read();
  const seconds = (performance.now() - startedAt) / 1000;
  return {
    podCpuMsPerSecond: round((after.podCpuMs - before.podCpuMs) / seconds, 1),
    redisCpuMsPerSecond: round((after.redisCpuMs - before.redisCpuMs) / seconds, 1),
    redisCommandsPerSecond: Math.round((after.commands - before.commands) / seconds),
  };
}

/**
 * Issue #22: an idle fleet (every camera connected, no rollout running) for a window with nobody
 * watching, then with `dashboards` operators on the Overview page: each keeps the subscriptions
 * that page opens (`fleet.watch` every second, `rollout.watchList` every second), spread over the
 * pods as a load balancer would. Nothing changes meanwhile, so what the watchers cost should not
 * depend on the fleet's size.
 */
export async function idleFleet(
  cluster: Cluster,
  devices: number,
  windowMs: number,
  dashboards = 5,
): Promise<IdleResult> {
  const alone = await rates(cluster, windowMs);
  const clients = Array.from({ length: dashboards }, (_, i) =>
    createAdminClient(cluster.pods[i % cluster.pods.length]?.url ?? '', TEST_TOKENS.admin),
  );
  let pushes = 0;
  try {
    for (const { client } of clients) {
      client.fleet.watch.subscribe({ intervalMs: 1_000 }, { onData: () => void pushes++ });
      client.rollout.watchList.subscribe({ limit: 50, intervalMs: 1_000 }, { onData: () => void pushes++ });
    }
    // Every dashboard has its first figures and list: the watch loops run.
    await waitFor(() => pushes >= dashboards * 2, { timeoutMs: 30_000, what: 'the dashboards to load' });
    const watched = await rates(cluster, windowMs);
    return {
      devices,
      dashboards,
      windowMs,
      podCpuMsPerSecondAlone: alone.podCpuMsPerSecond,
      podCpuMsPerSecondWatched: watched.podCpuMsPerSecond,
      redisCpuMsPerSecondAlone: alone.redisCpuMsPerSecond,
      redisCpuMsPerSecondWatched: watched.redisCpuMsPerSecond,
      redisCommandsPerSecondAlone: alone.redisCommandsPerSecond,
      redisCommandsPerSecondWatched: watched.redisCommandsPerSecond,
    };
  } finally {
    for (const client of clients) client.close();
  }
}
