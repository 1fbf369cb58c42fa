import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAdminClient } from '@camfleet/client';
import type { DeliveryState, RolloutStatus } from '@camfleet/contracts';
import {
  freePort,
  PodProcess,
  RedisServer,
  runFleet,
  startSim,
  TEST_TOKENS,
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

describe('chaos', () => {
  it('loses nothing while pods are killed and drained, and Redis restarts and stalls', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = seeded(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const log: string[] = [`seed ${seed}`];
    const redis = await RedisServer.start({ appendOnly: true });
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const start = (i: number) =>
      PodProcess.start(redis.url, `chaos${i + 1}`, {
        PORT: String(ports[i]),
        FLEET_LEASE_MS: '3000',
        FLEET_SHUTDOWN_GRACE_MS: '1500',
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
    const summaryFile = join(redis.dir, 'sim-summary.json');
    const sim = startSim([
      '--url',
      urls.join(','),
      '--devices',
      String(DEVICES),
      '--credentials',
      join(redis.dir, 'credentials.json'),
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

      // The driver: seeded faults until the chaos window ends.
      const until = Date.now() + CHAOS_MS;
      while (Date.now() < until) {
        const fault = pick(['kill', 'drain', 'redis-restart', 'redis-stall', 'kill'] as const);
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
        } else {
          await redis.pause(1500 + Math.floor(random() * 2000));
        }
        await new Promise((r) => setTimeout(r, 1000 + random() * 2000));
      }

      const faults = log.slice(1);
      log.push(`open deliveries when the chaos ended: ${await openAfterChaos()}`);
      // Then: everything settles, and every check holds.
      const live = createAdminClient(urls[0] ?? '', TEST_TOKENS.admin);
      const final = await waitFor(
        async () => {
          const s = await live.client.rollout.get.query({ rolloutId: rollout.id }).catch(() => null);
          return s && s.status === 'completed' ? s : null;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: 'the rollout to settle after the chaos' },
      );
      await checkAgainstDevices(live, final, patch.version);
      sim.child.kill('SIGTERM');
      await sim.done;
      const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as Record<string, number>;
      expect(summary.installsRepeated).toBe(0);
      console.info(
        `[chaos] seed ${seed}: ${faults.length} faults (${faults
          .map((l) => l.split(' ').slice(1).join(' '))
          .join(', ')}); ${log.at(-1)}; ` +
          `${final.counts.succeeded} succeeded, ${final.counts.failed} failed of ${final.targeted}; ` +
          `${summary.reconnects} reconnects, ${summary.replaced} replaced, ${summary.reportsRejected} stale reports refused, 0 repeated installs; ` +
          repairs(),
      );
      live.close();
    } catch (error) {
      console.error(`[chaos] FAILED — replay with CHAOS_SEED=${seed}\n${log.join('\n')}\n${repairs()}`);
      console.error(await diagnose(urls[0] ?? '').catch((e: unknown) => `no diagnosis: ${String(e)}`));
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
