import type { Cluster } from './cluster.js';
import { DDI_TENANT } from './cluster.js';
import { round } from './stats.js';

/** hawkBit DDI controllers polling one pod: what one poll costs the pod and Redis. */
export interface DdiResult {
  controllers: number;
  /** Polls in the measured pass (each controller once; the first pass, which registers them, is not measured). */
  polls: number;
  pollsPerSecond: number;
  podCpuMsPer1000Polls: number;
  redisCpuMsPer1000Polls: number;
  redisCommandsPerPoll: number;
  /** What 10,000 controllers polling every 60 s ask of a pod: polls/s, and the share of one core. */
  at10kEvery60s: { pollsPerSecond: number; podCoreShare: number };
}

const CONCURRENCY = 32;

/** Every controller polls once (fetch keeps its connections alive), CONCURRENCY at a time. */
async function pollAll(url: string, token: string, controllers: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < controllers) {
      const id = next++;
      const response = await fetch(`${url}/${DDI_TENANT}/controller/v1/ddi-bench-${id}`, {
        headers: { authorization: `GatewayToken ${token}`, accept: 'application/json' },
      });
      await response.text();
      if (response.status !== 200) throw new Error(`poll of ddi-bench-${id}: HTTP ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/**
 * `controllers` DDI controllers poll the first pod (a gateway token for all, as a gateway would):
 * once to register, then once more, measured. Idle controllers: each poll registers the device,
 * runs the offer claim and marks it away again, as every poll without work does.
 */
export async function ddi(cluster: Cluster, controllers: number, token: string): Promise<DdiResult> {
  const pod = cluster.pods[0];
  if (!pod) throw new Error('no pod');
  await pollAll(pod.url, token, controllers);
  const [podBefore] = await cluster.podsUsage();
  const redisBefore = await cluster.redisCounters();
  const startedAt = performance.now();
  await pollAll(pod.url, token, controllers);
  const seconds = (performance.now() - startedAt) / 1000;
  const [podAfter] = await cluster.podsUsage();
  const redisAfter = await cluster.redisCounters();
  const calls = (counters: typeof redisAfter) => Object.values(counters.calls).reduce((a, b) => a + b, 0);
  const podMs = (podAfter?.cpuMs ?? 0) - (podBefore?.cpuMs ?? 0);
  const perPollMs = podMs / controllers;
  const at10k = 10_000 / 60;
  return {
    controllers,
    polls: controllers,
    pollsPerSecond: Math.round(controllers / seconds),
    podCpuMsPer1000Polls: round(perPollMs * 1000, 0),
    redisCpuMsPer1000Polls: round(((redisAfter.cpuMs - redisBefore.cpuMs) * 1000) / controllers, 0),
    redisCommandsPerPoll: round((calls(redisAfter) - calls(redisBefore)) / controllers, 1),
    at10kEvery60s: { pollsPerSecond: round(at10k, 0), podCoreShare: round((at10k * perPollMs) / 1000, 3) },
  };
}
