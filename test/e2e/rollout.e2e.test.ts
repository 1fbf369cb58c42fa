import { waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectCountsAddUp, TestFleet } from './harness.js';

// Real processes on a 2-core machine: generous budgets, so a loaded CI box slows the tests, not fails them.
vi.setConfig({ testTimeout: 180_000 });

let fleet: TestFleet | null = null;
afterEach(async () => {
  await fleet?.down();
  fleet = null;
});

describe('end to end: pods, simulator and CLI as real processes', () => {
  it('rolls a patch out to 300 cameras over two pods; `fleet rollout watch` exits 0', async () => {
    fleet = await TestFleet.up(2);
    const sim = fleet.sim(['--devices', '300', '--apply-ms', '50', '--download-ms', '20']);
    await fleet.waitOnline(300);
    const stats = await fleet.admin.client.fleet.stats.query();
    expect(stats.nodes).toHaveLength(2);

    const started = Date.now();
    const rolloutId = await fleet.rollOut();
    const watch = await fleet.fleet(['rollout', 'watch', rolloutId, '--timeout', '150s', '--json']);
    const elapsed = Date.now() - started;
    expect(watch.code, watch.stderr).toBe(0);
    const final = JSON.parse(watch.stdout) as { targeted: number; counts: Record<string, number> };
    expect(final.targeted).toBe(300);
    expect(final.counts.succeeded).toBe(300);
    console.info(
      `[e2e] 300 devices / 2 pods: rollout start to all succeeded in ${elapsed} ms (CLI round trips included)`,
    );

    const summary = await sim.finish();
    expect(summary.installsDone).toBe(300);
    expect(summary.installsRepeated).toBe(0);
    expect(summary.reportsRejected).toBe(0);
  });

  it('survives kill -9 of a pod mid-rollout: every delivery completes, none repeated', async () => {
    fleet = await TestFleet.up(2);
    // Every install is held once it reports `installing`: the kill lands mid-install for all 200.
    const hold = fleet.installHold();
    const sim = fleet.sim(['--devices', '200', '--apply-ms', '1500', ...hold.args]);
    await fleet.waitOnline(200);
    const rolloutId = await fleet.rollOut(['--ack-timeout', '60s']);
    await waitUntilInstalling(fleet, rolloutId, 200);

    const victim = fleet.pods[0]!;
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await hold.release();
    const final = await fleet.waitSettled(rolloutId);
    console.info(
      `[e2e] kill -9 of a pod holding ~100 devices mid-install: all 200 succeeded ${Date.now() - killedAt} ms after the kill`,
    );
    expect(final.counts.succeeded).toBe(200);
    expectCountsAddUp(final);
    const summary = await sim.finish();
    expect(summary.installsRepeated).toBe(0);
    expect(summary.installsDone).toBe(200);
  });

  it('survives a Redis restart (AOF on) mid-rollout', async () => {
    fleet = await TestFleet.up(2, { appendOnly: true });
    const hold = fleet.installHold();
    const sim = fleet.sim(['--devices', '100', '--apply-ms', '1000', ...hold.args]);
    await fleet.waitOnline(100);
    const rolloutId = await fleet.rollOut(['--ack-timeout', '60s']);
    await waitUntilInstalling(fleet, rolloutId, 100);

    const restartedAt = Date.now();
    await fleet.redis.restart('SIGTERM');
    await hold.release();
    const final = await fleet.waitSettled(rolloutId);
    console.info(
      `[e2e] Redis restart mid-install: all 100 succeeded ${Date.now() - restartedAt} ms after the restart`,
    );
    expect(final.counts.succeeded).toBe(100);
    expectCountsAddUp(final);
    const summary = await sim.finish();
    expect(summary.installsRepeated).toBe(0);
  });

  it('gives the rollout to a device offline during it, and to devices that register after it started', async () => {
    fleet = await TestFleet.up(2);
    // cam-0001 registers, then goes away.
    const early = fleet.sim(['--devices', '1', '--prefix', 'offline']);
    await fleet.waitOnline(1);
    await early.finish();
    await waitFor(async () => (await fleet!.admin.client.fleet.stats.query()).online === 0, {
      what: 'offline',
    });
    const rolloutId = await fleet.rollOut();
    let status = await fleet.status(rolloutId);
    expect(status.targeted).toBe(1);
    expect(status.counts.queued).toBe(1);

    const late = fleet.sim(['--devices', '20', '--prefix', 'late', '--apply-ms', '50']);
    const back = fleet.sim(['--devices', '1', '--prefix', 'offline', '--apply-ms', '50']);
    // Completed with all 21: it is also completed for a moment whenever every device so far is done.
    status = await fleet.waitSettled(rolloutId, { targeted: 21 });
    expect(status.targeted).toBe(21);
    expect(status.counts.succeeded).toBe(21);
    expect((await late.finish()).installsDone).toBe(20);
    expect((await back.finish()).installsDone).toBe(1);
  });

  it('retries failed installs with backoff until they succeed', async () => {
    fleet = await TestFleet.up(2);
    const flaky = fleet.sim([
      '--devices',
      '30',
      '--prefix',
      'flaky',
      '--apply-ms',
      '20',
      '--fail-rate',
      '0.5',
    ]);
    await fleet.waitOnline(30);
    const rolloutId = await fleet.rollOut([
      '--max-attempts',
      '25',
      '--retry-base',
      '50ms',
      '--retry-max',
      '200ms',
    ]);
    const final = await fleet.waitSettled(rolloutId);
    expect(final.counts.succeeded).toBe(30);
    const flakySummary = await flaky.finish();
    expect(flakySummary.installsFailed).toBeGreaterThan(0);
    expect(flakySummary.installsRepeated).toBe(0);
  });

  it('fails deliveries whose attempts run out; `fleet rollout watch` exits 1', async () => {
    fleet = await TestFleet.up(2);
    const broken = fleet.sim([
      '--devices',
      '10',
      '--prefix',
      'broken',
      '--apply-ms',
      '20',
      '--fail-rate',
      '1',
    ]);
    await fleet.waitOnline(10);
    const doomed = await fleet.rollOut([
      '--max-attempts',
      '3',
      '--retry-base',
      '50ms',
      '--retry-max',
      '100ms',
    ]);
    const watch = await fleet.fleet(['rollout', 'watch', doomed, '--timeout', '150s', '--json']);
    expect(watch.code).toBe(1);
    const settled = JSON.parse(watch.stdout) as { counts: Record<string, number> };
    expect(settled.counts.failed).toBe(10);
    const device = await fleet.fleetJson<{
      deliveries: Array<{ rolloutId: string; attempt: number; failures: number }>;
    }>(['device', 'show', 'broken-0001']);
    expect(device.deliveries.find((d) => d.rolloutId === doomed)).toMatchObject({ attempt: 3, failures: 3 });
    expect((await broken.finish()).installsFailed).toBe(30);
  });

  it('retries an attempt whose device went silent, after the ack timeout', async () => {
    fleet = await TestFleet.up(2);
    const sim = fleet.sim(['--devices', '20', '--apply-ms', '20', '--hang-rate', '0.5']);
    await fleet.waitOnline(20);
    const rolloutId = await fleet.rollOut([
      '--ack-timeout',
      '500ms',
      '--max-attempts',
      '30',
      '--retry-base',
      '50ms',
    ]);
    const final = await fleet.waitSettled(rolloutId);
    expect(final.counts.succeeded).toBe(20);
    const admin = fleet.admin.client;
    const retried = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        admin.devices.get.query({ deviceId: `cam-${String(i + 1).padStart(4, '0')}` }),
      ),
    );
    const timedOut = retried.filter((d) => (d.deliveries[0]?.failures ?? 0) > 0);
    expect(timedOut.length).toBeGreaterThan(0);
    expect((await sim.finish()).installsRepeated).toBe(0);
  });
});

/** Held installs stay `installing`: once `count` are, they all are until the hold is released. */
async function waitUntilInstalling(fleet: TestFleet, rolloutId: string, count: number): Promise<void> {
  await waitFor(async () => (await fleet.status(rolloutId)).counts.installing === count, {
    timeoutMs: 90_000,
    what: `${count} deliveries installing`,
  });
}
