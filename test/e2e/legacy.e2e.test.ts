import { parseRedisUrl } from '@camfleet/redis';
import { LegacyCamera, redisCli, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectCountsAddUp, TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 180_000 });

const TOKEN = 'legacy-e2e-token-0123456';
const LEGACY_ENV = {
  FLEET_LEGACY_PROTOCOL: 'on',
  FLEET_LEGACY_TOKEN: TOKEN,
  FLEET_LEGACY_PATCH_LIST: 'on',
  FLEET_LEGACY_PATCH_LIST_POLL_MS: '200',
  // The original resent after 60 s; a test cannot wait that long.
  FLEET_LEGACY_ACK_TIMEOUT_MS: '3000',
};
const TYPED = 20;

let fleet: TestFleet | null = null;
const cameras: LegacyCamera[] = [];
afterEach(async () => {
  for (const camera of cameras.splice(0)) camera.close();
  await fleet?.down();
  fleet = null;
});

/** What operators typed on the original system: `redis-cli rpush patch_files <names…>`. */
async function rpushPatchFiles(redis: TestRedis, ...names: string[]): Promise<void> {
  const target = parseRedisUrl(redis.url);
  const port = target.mode === 'cluster' ? target.nodes[0]?.port : Number(new URL(redis.url).port);
  await redisCli(port ?? 0, ['RPUSH', 'patch_files', ...names], { cluster: target.mode === 'cluster' });
}

async function rolloutOf(current: TestFleet, patchName: string): Promise<string> {
  return waitFor(
    async () => {
      const rollouts = await current.admin.client.rollout.list.query({ limit: 50 });
      return rollouts.find((r) => r.patch.name === patchName)?.id ?? null;
    },
    { timeoutMs: 20_000, what: `a rollout of ${patchName}` },
  );
}

describe('migration: the original cameras and patch list, beside typed cameras', () => {
  it('rpush patch_files reaches typed and legacy cameras over two pods, once; failed and silent cameras are retried', async () => {
    fleet = await TestFleet.up(2, { podEnv: LEGACY_ENV });
    const current = fleet;
    const sim = current.sim(['--devices', String(TYPED), '--apply-ms', '50']);
    const behaviours = {
      'old-cam-1': () => 'success' as const,
      'old-cam-2': () => 'success' as const,
      'old-cam-3': () => 'success' as const,
      // Answers "failed" to its first update: the original resent on "failed".
      'old-cam-fail': (_: unknown, n: number) => (n === 0 ? ('failed' as const) : ('success' as const)),
      // Never answers its first update: resent after the ack timeout.
      'old-cam-silent': (_: unknown, n: number) => (n === 0 ? ('silent' as const) : ('success' as const)),
    };
    const ids = Object.keys(behaviours) as Array<keyof typeof behaviours>;
    for (const [i, id] of ids.entries()) {
      const pod = current.pods[i % current.pods.length];
      cameras.push(
        await LegacyCamera.connect(pod?.url ?? '', id, {
          token: TOKEN,
          behaviour: behaviours[id],
          answerDelayMs: 200,
        }),
      );
    }
    await current.waitOnline(TYPED + ids.length);

    await rpushPatchFiles(current.redis, 'fw-legacy-1.bin');
    const rolloutId = await rolloutOf(current, 'fw-legacy-1.bin');
    const final = await current.waitSettled(rolloutId, { timeoutMs: 120_000 });
    expect(final.counts.succeeded).toBe(TYPED + ids.length);
    expectCountsAddUp(final);
    // Both pods watch the list: the entry was imported once.
    const rollouts = await current.admin.client.rollout.list.query({ limit: 50 });
    expect(rollouts.filter((r) => r.patch.name === 'fw-legacy-1.bin')).toHaveLength(1);
    expect(final.patch.version).toBe('patch_files-1');

    for (const camera of cameras) expect(camera.installed).toEqual(['fw-legacy-1.bin']);
    const byId = new Map(cameras.map((camera) => [camera.id, camera]));
    expect(byId.get('old-cam-fail')?.updates.length).toBe(2);
    expect(byId.get('old-cam-silent')?.updates.length).toBe(2);
    // The resend is a new attempt: a new timestamp for the same patch file.
    const [first, second] = byId.get('old-cam-silent')?.updates ?? [];
    expect(second?.patch_file).toBe(first?.patch_file);
    expect(second?.timestamp).not.toBe(first?.timestamp);

    const { devices } = await current.admin.client.devices.list.query({ limit: 100 });
    const legacy = devices.filter((d) => d.labels.protocol === 'legacy').map((d) => d.id);
    expect(legacy.sort()).toEqual([...ids].sort());
    const summary = await sim.finish();
    expect(summary.installsDone).toBe(TYPED);
    expect(summary.installsRepeated).toBe(0);
  });

  it('the newest name pushed supersedes the older ones, as on the original system', async () => {
    fleet = await TestFleet.up(2, { podEnv: LEGACY_ENV });
    const current = fleet;
    const sim = current.sim(['--devices', String(TYPED), '--apply-ms', '400']);
    for (const id of ['old-cam-a', 'old-cam-b']) {
      cameras.push(
        await LegacyCamera.connect(current.pods[0]?.url ?? '', id, { token: TOKEN, answerDelayMs: 400 }),
      );
    }
    await current.waitOnline(TYPED + 2);
    await rpushPatchFiles(current.redis, 'fw-2.bin', 'fw-3.bin');
    const older = await rolloutOf(current, 'fw-2.bin');
    const newest = await rolloutOf(current, 'fw-3.bin');
    const done = await current.waitSettled(newest, { timeoutMs: 120_000 });
    expect(done.counts.succeeded).toBe(TYPED + 2);
    const superseded = await current.waitSettled(older, { timeoutMs: 60_000 });
    // What had not started of the older patch was canceled; what had started finished.
    expect(superseded.counts.succeeded + superseded.counts.canceled).toBe(TYPED + 2);
    for (const camera of cameras) expect(camera.installed.at(-1)).toBe('fw-3.bin');
    await sim.finish();
  });
});
