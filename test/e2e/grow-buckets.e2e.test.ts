import {
  connectTestRedis,
  keysEverywhere,
  PodProcess,
  startGrowBuckets,
  waitFor,
} from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deviceHash } from '../../apps/server/src/redis/bucket-layout.js';
import { expectCountsAddUp, TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 240_000 });

const DEVICES = 120;
let fleet: TestFleet | undefined;
afterEach(async () => {
  await fleet?.down();
  fleet = undefined;
});

describe('growing the bucket count (pnpm grow-buckets)', () => {
  it('goes from 64 to 256 buckets under a running rollout, with a pod and the job itself killed mid-way', async () => {
    fleet = await TestFleet.up(2);
    // Installs are held once they report `installing`: the first ten are in flight while their
    // buckets split, and the rest of the rollout runs while the job's second run splits the rest.
    const hold = fleet.installHold();
    const sim = fleet.sim([
      '--devices',
      String(DEVICES),
      '--apply-ms',
      '800',
      '--reboot-ms',
      '100',
      ...hold.args,
    ]);
    await fleet.waitOnline(DEVICES);
    const rolloutId = await fleet.rollOut(['--max-in-flight', '10']);
    await waitFor(async () => (await fleet?.status(rolloutId))?.counts.installing === 10, {
      timeoutMs: 90_000,
      what: '10 deliveries installing',
    });
    const redis = connectTestRedis(fleet.redis.url);
    const startedAt = Date.now();
    try {
      const splitSoFar = async () => Number(await redis.scard('cf:{g}:layout:split'));
      const first = startGrowBuckets(fleet.redis.url, 256);
      let firstExited = false;
      void first.done.then(() => {
        firstExited = true;
      });
      // A pod dies with buckets split and more to go; a new one takes its place.
      await waitFor(async () => firstExited || (await splitSoFar()) >= 8, {
        timeoutMs: 120_000,
        what: '8 buckets split',
      });
      await fleet.pods[0]?.kill('SIGKILL');
      fleet.pods[0] = await PodProcess.start(fleet.redis.url, 'pod1-again');
      // Then the job dies, and runs again: it finishes what it began.
      await waitFor(async () => firstExited || (await splitSoFar()) >= 24, {
        timeoutMs: 120_000,
        what: '24 buckets split',
      });
      first.child.kill('SIGKILL');
      const killed = await first.done;
      expect(killed.code, 'the job was still running when killed').toBeNull();
      const secondRun = startGrowBuckets(fleet.redis.url, 256);
      await hold.release();
      const second = await secondRun.done;
      expect(second.code, second.stderr).toBe(0);
      const grownAt = Date.now();
      const during = await fleet.status(rolloutId);
      expect(await redis.hget('cf:{g}:layout', 'count')).toBe('256');
      expect(await redis.hexists('cf:{g}:layout', 'target')).toBe(0);

      const final = await fleet.waitSettled(rolloutId, { targeted: DEVICES });
      expect(final.counts.succeeded).toBe(DEVICES);
      expectCountsAddUp(final);
      const summary = await sim.finish();
      expect(summary.installsRepeated).toBe(0);
      // Each device's record is in its bucket of 256, once, and every device shows the install.
      const records = await keysEverywhere(redis, 'cf:{b*}:dev:*');
      expect(records).toHaveLength(DEVICES);
      for (const key of records) {
        const [, bucket, id = ''] = /\{b(\d+)\}:dev:(.*)$/.exec(key) ?? [];
        expect(Number(bucket), id).toBe(deviceHash(id) % 256);
        const detail = await fleet.admin.client.devices.get.query({ deviceId: id });
        expect(detail.deliveries.find((d) => d.rolloutId === rolloutId)?.state, id).toBe('succeeded');
      }
      const stats = await fleet.admin.client.fleet.stats.query();
      expect(stats.devices).toBe(DEVICES);
      // How long each bucket was fenced, from the second run's log (a pod dead meanwhile not among them).
      const fenced = second.stdout
        .split('\n')
        .filter((line) => line.includes('"msg":"bucket split"'))
        .map((line) => (JSON.parse(line) as { ms: number }).ms)
        .sort((a, b) => a - b);
      console.info(
        `[e2e] each bucket fenced ${fenced[Math.floor(fenced.length / 2)]} ms (median), ${fenced.at(-1)} ms at most, over ${fenced.length} buckets`,
      );
      console.info(
        `[e2e] grew 64 → 256 buckets in ${((grownAt - startedAt) / 1000).toFixed(1)} s (two runs, a pod killed) ` +
          `with ${DEVICES} cameras and a rollout under way (${during.counts.succeeded} succeeded when the growth ended); ` +
          `all ${final.counts.succeeded} succeeded, 0 installs repeated`,
      );
    } finally {
      redis.disconnect();
    }
  });
});
