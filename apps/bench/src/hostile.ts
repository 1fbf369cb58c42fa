import { createAdminClient } from '@camfleet/client';
import { waitFor } from '@camfleet/test-support';
import type { Cluster } from './cluster.js';
import { quantile, round } from './stats.js';

/** One token following the event stream many times over, on one pod of an idle fleet. */
export interface HostileResult {
  connections: number;
  subscriptionsPerConnection: number;
  /** Redis commands per second (all masters), with one follower and with every follower. */
  redisCommandsPerSecondOne: number;
  redisCommandsPerSecondFlood: number;
  /** The pod's RSS before the followers and with all of them following. */
  podRssBeforeBytes: number;
  podRssFloodBytes: number;
  /** `fleet.stats` round trips from another client, with one follower and during the flood. */
  statsP50OneMs: number;
  statsP99OneMs: number;
  statsP50FloodMs: number;
  statsP99FloodMs: number;
}

const WINDOW_MS = 5_000;

/** Redis commands per second over a window (every master's INFO commandstats, summed). */
async function commandsPerSecond(cluster: Cluster): Promise<number> {
  const calls = async () => Object.values((await cluster.redisCounters()).calls).reduce((a, b) => a + b, 0);
  const before = await calls();
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const after = await calls();
  return Math.round(((after - before) * 1000) / (performance.now() - startedAt));
}

/** `fleet.stats` latency (p50, p99) over 40 calls. */
async function statsLatency(cluster: Cluster): Promise<[number, number]> {
  const took: number[] = [];
  for (let i = 0; i < 40; i++) {
    const startedAt = performance.now();
    await cluster.admin.client.fleet.stats.query();
    took.push(performance.now() - startedAt);
  }
  return [round(quantile(took, 0.5), 1), round(quantile(took, 0.99), 1)];
}

/**
 * The attack of issue #24: 50 WebSocket connections × 10 `events.follow` on one viewer token, on
 * the first pod. Before the shared feed, each subscription polled every stream every 250 ms.
 */
export async function hostile(
  cluster: Cluster,
  connections = 50,
  perConnection = 10,
): Promise<HostileResult> {
  const pod = cluster.pods[0];
  if (!pod) throw new Error('no pod');
  const clients: Array<ReturnType<typeof createAdminClient>> = [];
  let following = 0;
  const follow = (client: ReturnType<typeof createAdminClient>) =>
    client.client.events.follow.subscribe({}, { onStarted: () => void following++ });
  const { token } = await cluster.admin.client.tokens.create.mutate({
    name: 'bench-follower',
    role: 'viewer',
    expiresInMs: null,
  });
  try {
    const one = createAdminClient(pod.url, token);
    clients.push(one);
    follow(one);
    await waitFor(() => following === 1, { what: 'one follower', timeoutMs: 30_000 });
    const [rssBefore] = await cluster.podsUsage();
    const redisCommandsPerSecondOne = await commandsPerSecond(cluster);
    const [statsP50OneMs, statsP99OneMs] = await statsLatency(cluster);
    for (let c = 0; c < connections; c++) {
      const client = createAdminClient(pod.url, token);
      clients.push(client);
      for (let s = 0; s < perConnection; s++) follow(client);
    }
    await waitFor(() => following === 1 + connections * perConnection, {
      what: 'every follower',
      timeoutMs: 60_000,
    });
    const redisCommandsPerSecondFlood = await commandsPerSecond(cluster);
    const [statsP50FloodMs, statsP99FloodMs] = await statsLatency(cluster);
    const [rssFlood] = await cluster.podsUsage();
    return {
      connections,
      subscriptionsPerConnection: perConnection,
      redisCommandsPerSecondOne,
      redisCommandsPerSecondFlood,
      podRssBeforeBytes: rssBefore?.rssBytes ?? 0,
      podRssFloodBytes: rssFlood?.rssBytes ?? 0,
      statsP50OneMs,
      statsP99OneMs,
      statsP50FloodMs,
      statsP99FloodMs,
    };
  } finally {
    for (const client of clients) client.close();
  }
}
