import { PROVISION_BATCH_MAX } from '@camfleet/contracts';
import { connectTestRedis, keysEverywhere, waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectCountsAddUp, TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 180_000 });

/** Enough devices that the attach takes Redis about a second: the kill lands in the middle of it. */
const DEVICES = 20_000;
let fleet: TestFleet | undefined;
afterEach(async () => {
  await fleet?.down();
  fleet = undefined;
});

describe('background attach (rollout.create returns at once)', () => {
  it('goes on when the pod attaching it is killed: every device targeted once, none missed', async () => {
    fleet = await TestFleet.up(2);
    const creator = fleet.admin;
    for (let at = 0; at < DEVICES; at += PROVISION_BATCH_MAX) {
      const devices = Array.from({ length: Math.min(PROVISION_BATCH_MAX, DEVICES - at) }, (_, i) => ({
        deviceId: `cam-${at + i}`,
        model: 'cam-x',
        labels: {},
      }));
      await creator.client.devices.credentials.provisionMany.mutate({ devices });
    }
    const patch = await creator.client.patch.publish.mutate({ name: 'fw', version: '2.0.0' });
    const created = await creator.client.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'all' },
    });
    await fleet.pods[0]?.kill('SIGKILL');
    expect(created.attach?.of).toBe(64);

    // The other pod (its operators' client too) sees the attach unfinished, then finished.
    const afterKill = await fleet.status(created.id);
    expect(afterKill.attach, 'the attach was still running when its pod died').not.toBeNull();
    const attached = await waitFor(
      async () => {
        const status = await fleet?.status(created.id);
        return status?.attach === null ? status : null;
      },
      { timeoutMs: 90_000, what: 'the attach to reach every bucket' },
    );
    expect(attached.targeted).toBe(DEVICES);
    expect(attached.counts.queued).toBe(DEVICES);
    expectCountsAddUp(attached);
    const redis = connectTestRedis(fleet.redis.url);
    try {
      // One delivery record per device, none missing and none twice.
      expect(await keysEverywhere(redis, `cf:{b*}:d:${created.id}:*`)).toHaveLength(DEVICES);
      expect(await redis.scard('cf:{g}:attaching')).toBe(0);
    } finally {
      await redis.quit();
    }
  });
});
