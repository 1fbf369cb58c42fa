import { mastersOf } from '@camfleet/redis';
import { parseInfo, waitFor } from '@camfleet/test-support';
import type { Cluster } from './cluster.js';
import type { LeanCounters } from './lean-camera.js';
import { rollOut } from './scenarios.js';
import { median, round } from './stats.js';

/** One reading of memory during the soak. */
export interface SoakSample {
  /** Seconds since the soak began. */
  atS: number;
  /** Each pod's RSS (0 while it restarts). */
  podRssMiB: number[];
  /** Redis's used_memory (every master). */
  redisUsedMiB: number;
}

export interface SoakResult {
  minutes: number;
  devices: number;
  rollouts: number;
  deliveries: number;
  deliveriesPerMinute: number;
  faults: Record<'churn' | 'pod-restart' | 'redis-restart', number>;
  /** What went wrong, by kind: deliveries that failed, calls refused or retried, connections lost. */
  errors: Record<string, number>;
  samples: SoakSample[];
  /**
   * The pods' RSS (median over the live pods' readings) in the first and the last fifth of the time
   * after the warm-up (the first rollout done), and the difference: pods restart during the soak,
   * so this compares pods at work, whichever process each is by then.
   */
  podRssMedianMiB: { afterWarmUp: number; atEnd: number; growth: number } | null;
  redisGrowthMiB: number;
  /** What each rollout after the warm-up left in Redis (delivery records and their history). */
  redisBytesPerRollout: number;
}

const SAMPLE_MS = 5_000;
/**
 * A rollout starts at most this often: back to back, at a pace a fleet could keep for hours (each
 * keeps its delivery records until finished rollouts are compacted, issue #26).
 */
const ROLLOUT_EVERY_MS = 10_000;
const FAULT_EVERY_MS = 15_000;
/** Share of the cameras that blip at a churn fault. */
const CHURN_SHARE = 0.05;
const MiB = 1024 * 1024;

async function redisUsedBytes(cluster: Cluster): Promise<number> {
  const infos = await Promise.all(mastersOf(cluster.redisClient).map((master) => master.info('memory')));
  return infos.reduce((sum, text) => sum + Number(parseInfo(text).get('used_memory') ?? 0), 0);
}

/** The lean cameras' counters, summed over the camera processes. */
async function leanCounters(cluster: Cluster): Promise<LeanCounters[]> {
  return (await cluster.all({ type: 'usage' })).flatMap((usage) => (usage.lean ? [usage.lean] : []));
}

/** Counts by kind that grew between two readings of the lean cameras' counters. */
function cameraErrors(before: LeanCounters[], after: LeanCounters[]): Record<string, number> {
  const errors: Record<string, number> = {};
  const add = (kind: string, n: number) => {
    if (n > 0) errors[kind] = (errors[kind] ?? 0) + n;
  };
  after.forEach((a, i) => {
    const b = before[i];
    for (const [code, n] of Object.entries(a.reportErrors))
      add(`report refused: ${code}`, n - (b?.reportErrors[code] ?? 0));
    for (const [code, n] of Object.entries(a.closes))
      add(`connection closed: ${code}`, n - (b?.closes[code] ?? 0));
    for (const [status, n] of Object.entries(a.refusedUpgrades))
      add(`upgrade refused: ${status}`, n - (b?.refusedUpgrades[status] ?? 0));
    add('failed connects', a.failedConnects - (b?.failedConnects ?? 0));
    add('cameras rejected', a.rejected - (b?.rejected ?? 0));
    add('cameras replaced', a.replaced - (b?.replaced ?? 0));
  });
  return errors;
}

/**
 * Issue #22: rollouts to every main camera back to back (one every 10 s at most) for `minutes`, while a fault driver every
 * 15 s blips 5 % of the cameras (twice as likely) or kill -9s a pod and starts it again, and Redis is
 * restarted once halfway. Memory of the pods and Redis is read every 5 s: after the warm-up (the
 * first rollout) a pod's RSS must not grow; Redis grows by what each finished rollout keeps.
 */
export async function soak(cluster: Cluster, devices: number, minutes: number): Promise<SoakResult> {
  // A pod an earlier scenario killed (reconnect) is started again: the soak runs on every pod.
  for (const [i, pod] of cluster.pods.entries())
    if (pod.child.exitCode !== null || pod.child.signalCode !== null) await cluster.restartPod(i);
  const startedAt = Date.now();
  const endsAt = startedAt + minutes * 60_000;
  const camerasBefore = await leanCounters(cluster);
  const samples: SoakSample[] = [];
  const errors: Record<string, number> = {};
  const count = (kind: string, n = 1) => {
    errors[kind] = (errors[kind] ?? 0) + n;
  };
  const faults = { churn: 0, 'pod-restart': 0, 'redis-restart': 0 };
  let running = true;

  const sample = async () => {
    const [usage, redisBytes] = await Promise.all([
      cluster.podsUsage(),
      redisUsedBytes(cluster).catch(() => 0),
    ]);
    samples.push({
      atS: round((Date.now() - startedAt) / 1000, 1),
      podRssMiB: usage.map((u) => round(u.rssBytes / MiB, 1)),
      redisUsedMiB: round(redisBytes / MiB, 2),
    });
  };
  const sampler = (async () => {
    while (running) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();

  const driver = (async () => {
    let redisRestarted = false;
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, FAULT_EVERY_MS));
      if (!running) return;
      if (!redisRestarted && Date.now() >= startedAt + (endsAt - startedAt) / 2) {
        redisRestarted = true;
        faults['redis-restart']++;
        await cluster.redis.restart('SIGTERM');
        continue;
      }
      if (Math.random() < 2 / 3) {
        faults.churn++;
        const perProcess = Math.ceil((devices * CHURN_SHARE) / cluster.sims.length);
        await cluster.all({ type: 'churn', cameras: perProcess });
      } else {
        faults['pod-restart']++;
        const i = Math.floor(Math.random() * cluster.pods.length);
        await cluster.restartPod(i);
      }
    }
  })();

  let rollouts = 0;
  let deliveries = 0;
  let warmUpEndsS = 0;
  let redisAtWarmUp = 0;
  try {
    while (Date.now() < endsAt) {
      const roundStartedAt = Date.now();
      // A pod or Redis restarting refuses the call: try again until it is taken.
      const { rolloutId } = await waitFor(
        () =>
          rollOut(cluster, 'main').catch((error: unknown) => {
            count(`rollout create refused: ${error instanceof Error ? error.message.slice(0, 60) : 'error'}`);
            return null;
          }),
        { timeoutMs: 120_000, intervalMs: 500, what: 'a rollout to be created' },
      );
      const final = await waitFor(
        async () => {
          const status = await cluster.admin.client.rollout.get.query({ rolloutId }).catch(() => null);
          if (!status) return null;
          const done = status.counts.succeeded + status.counts.failed;
          return done === devices ? status : null;
        },
        { timeoutMs: 600_000, intervalMs: 250, what: `rollout ${rolloutId} to finish` },
      );
      rollouts++;
      deliveries += final.counts.succeeded;
      if (final.counts.failed > 0) count('deliveries failed', final.counts.failed);
      if (rollouts === 1) {
        warmUpEndsS = (Date.now() - startedAt) / 1000;
        redisAtWarmUp = await redisUsedBytes(cluster);
      }
      const next = Math.min(endsAt, roundStartedAt + ROLLOUT_EVERY_MS) - Date.now();
      if (next > 0) await new Promise((resolve) => setTimeout(resolve, next));
    }
  } finally {
    running = false;
    await Promise.all([sampler, driver]);
  }
  await sample();
  const redisAtEnd = await redisUsedBytes(cluster);
  for (const [kind, n] of Object.entries(cameraErrors(camerasBefore, await leanCounters(cluster))))
    count(kind, n);

  const after = samples.filter((s) => s.atS >= warmUpEndsS);
  const fifth = Math.floor(after.length / 5);
  const rssMedian = (window: SoakSample[]) =>
    median(window.flatMap((s) => s.podRssMiB.filter((mib) => mib > 0)));
  let podRssMedianMiB: SoakResult['podRssMedianMiB'] = null;
  if (fifth > 0) {
    const afterWarmUp = rssMedian(after.slice(0, fifth));
    const atEnd = rssMedian(after.slice(-fifth));
    podRssMedianMiB = { afterWarmUp, atEnd, growth: round(atEnd - afterWarmUp, 1) };
  }
  const elapsedMin = (Date.now() - startedAt) / 60_000;
  return {
    minutes,
    devices,
    rollouts,
    deliveries,
    deliveriesPerMinute: Math.round(deliveries / elapsedMin),
    faults,
    errors,
    samples,
    podRssMedianMiB,
    redisGrowthMiB: round((redisAtEnd - redisAtWarmUp) / MiB, 2),
    redisBytesPerRollout: rollouts > 1 ? Math.round((redisAtEnd - redisAtWarmUp) / (rollouts - 1)) : 0,
  };
}
