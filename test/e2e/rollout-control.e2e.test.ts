import { type FleetEvent, OPEN_STATES, type RolloutStatus } from '@camfleet/contracts';
import { maxInFlight, pacedPerMinute, waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 180_000 });

let fleet: TestFleet | null = null;
afterEach(async () => {
  await fleet?.down();
  fleet = null;
});

/** Every delivery event of a rollout, oldest first (the event stream keeps them). */
async function deliveryEvents(
  f: TestFleet,
  rolloutId: string,
): Promise<Extract<FleetEvent, { kind: 'delivery' }>[]> {
  const events = await f.admin.client.events.list.query({ rolloutId, limit: 1000 });
  return events.filter((e): e is Extract<FleetEvent, { kind: 'delivery' }> => e.kind === 'delivery');
}

describe('rollout control across three pods', () => {
  it('holds the in-flight cap fleet-wide, reusing each freed slot', async () => {
    fleet = await TestFleet.up(3);
    const sim = fleet.sim(['--devices', '60', '--apply-ms', '200', '--reboot-ms', '50']);
    await fleet.waitOnline(60);
    const rolloutId = await fleet.rollOut(['--max-in-flight', '5']);
    const final = await fleet.waitSettled(rolloutId);
    expect(final.counts.succeeded).toBe(60);
    const seen = maxInFlight(await deliveryEvents(fleet, rolloutId));
    console.info(`[e2e] in-flight cap 5 over 3 pods, 60 devices: max in flight seen ${seen}`);
    expect(seen).toBeLessThanOrEqual(5);
    expect(seen).toBe(5);
    expect((await sim.finish()).installsRepeated).toBe(0);
  });

  it('paces starts at --max-per-minute across pods', async () => {
    fleet = await TestFleet.up(3);
    const sim = fleet.sim(['--devices', '40', '--apply-ms', '20', '--reboot-ms', '20']);
    await fleet.waitOnline(40);
    const rolloutId = await fleet.rollOut(['--max-per-minute', '300']);
    await fleet.waitSettled(rolloutId);
    const events = await deliveryEvents(fleet, rolloutId);
    expect(events.filter((e) => e.to === 'offered')).toHaveLength(40);
    // 300/min = 5/s with a one-second burst of 5: the other 35 take at least 7 s. The times are the
    // pods' stamps, a round trip after each grant; a second of slack absorbs a busy machine stamping
    // the first starts late, and still fails a limiter that lets starts through 15% too fast.
    const measured = pacedPerMinute(events, 300) ?? 0;
    console.info(`[e2e] rate limit 300/min over 3 pods: measured ${measured.toFixed(0)}/min after the burst`);
    expect(pacedPerMinute(events, 300, { slackMs: 1_000 })).toBeLessThanOrEqual(300);
    // Slower is the machine's doing, not the limiter's: only a limiter that barely lets anything
    // through fails here.
    expect(measured).toBeGreaterThan(300 * 0.3);
    expect((await sim.finish()).installsRepeated).toBe(0);
  });

  it('a canary catches a bad patch and the rollout stops itself', async () => {
    fleet = await TestFleet.up(3);
    // Every camera that installs this patch comes back on its old version (rolled back).
    const sim = fleet.sim([
      '--devices',
      '100',
      '--apply-ms',
      '50',
      '--reboot-ms',
      '50',
      '--rollback-rate',
      '1',
    ]);
    await fleet.waitOnline(100);
    const rolloutId = await fleet.rollOut([
      '--waves',
      '10,100',
      '--failure-threshold',
      '20%',
      '--min-sample',
      '3',
      '--on-failure',
      'abort',
      '--max-attempts',
      '1',
    ]);
    const stopped = await waitFor(
      async () => {
        const s = await fleet!.status(rolloutId);
        // Aborted, and every delivery closed: the abort cancels the queued ones bucket by bucket,
        // after the status has changed.
        return s.status === 'aborted' && OPEN_STATES.every((state) => s.counts[state] === 0) ? s : null;
      },
      { timeoutMs: 60_000, what: 'the rollout to abort and close every delivery' },
    );
    console.info(
      `[e2e] canary: aborted after ${stopped.counts.failed} rolled-back cameras; ${stopped.counts.canceled} never got the patch`,
    );
    expect(stopped.reason).toMatch(/failure threshold/);
    expect(stopped.wave).toBe(0);
    expect(stopped.waveCounts[1]?.succeeded ?? 0).toBe(0);
    expect(stopped.counts.failed).toBeLessThanOrEqual(
      stopped.waveCounts[0] ? Object.values(stopped.waveCounts[0]).reduce((a, b) => a + b, 0) : 0,
    );
    expect(stopped.counts.canceled).toBeGreaterThan(80);
    const device = await fleet.admin.client.devices.list.query({ limit: 100 });
    expect(device.devices.every((d) => d.firmwareVersion === '1.0.0')).toBe(true);
    await sim.finish();
  });

  it('lets an operator pause, resume and advance waves by hand; late matching devices join', async () => {
    fleet = await TestFleet.up(3);
    const site = fleet.sim([
      '--devices',
      '40',
      '--labels',
      'site=berlin',
      '--apply-ms',
      '20',
      '--reboot-ms',
      '20',
    ]);
    const other = fleet.sim(['--devices', '10', '--prefix', 'paris', '--labels', 'site=paris']);
    await fleet.waitOnline(50);
    const rolloutId = await fleet.rollOut([
      '--selector',
      'site=berlin',
      '--waves',
      '25,100',
      '--advance',
      'manual',
    ]);
    const first = await waitFor(
      async () => {
        const s = await fleet!.status(rolloutId);
        const wave0 = s.waveCounts[0]!;
        return wave0.succeeded > 0 && wave0.succeeded === Object.values(wave0).reduce((a, b) => a + b, 0)
          ? s
          : null;
      },
      { what: 'the first wave' },
    );
    expect(first.targeted).toBe(40);
    expect(first.gate).toEqual({ kind: 'operator', wave: 1 });
    expect(first.counts.succeeded).toBe(first.waveCounts[0]!.succeeded);

    const late = fleet.sim([
      '--devices',
      '5',
      '--prefix',
      'late',
      '--labels',
      'site=berlin',
      '--apply-ms',
      '20',
    ]);
    await fleet.waitOnline(55);
    await waitFor(async () => (await fleet!.status(rolloutId)).targeted === 45, {
      what: 'late devices to join',
    });
    // Pause: the next wave stays shut even when advanced; resume and it opens.
    const paused = await fleet.fleetJson<{ status: string; reason: string }>([
      'rollout',
      'pause',
      rolloutId,
      '--reason',
      'checking logs',
    ]);
    expect(paused).toMatchObject({ status: 'paused', reason: 'checking logs' });
    const advanced = await fleet.fleetJson<RolloutStatus>(['rollout', 'advance', rolloutId]);
    expect(advanced.wave).toBe(1);
    // Wave 1 got nothing while paused (late devices hashed into the open wave 0 may be mid-install).
    const wave1 = advanced.waveCounts[1]!;
    expect(wave1.offered + wave1.downloading + wave1.installing + wave1.verifying + wave1.succeeded).toBe(0);
    expect(wave1.queued).toBeGreaterThan(0);
    expect((await fleet.fleet(['rollout', 'resume', rolloutId])).code).toBe(0);
    const done = await fleet.waitSettled(rolloutId);
    expect(done.counts.succeeded).toBe(45);
    await Promise.all([site.finish(), other.finish(), late.finish()]);
  });

  it('cancels mid-install: devices that can stop do, those that cannot report their real outcome', async () => {
    fleet = await TestFleet.up(3);
    // Every install is held after its `installing` report until the test creates this file, so the
    // cancel arrives mid-install by construction, however slow the machine is.
    const { args: holdArgs, release } = fleet.installHold();
    const hold = ['--apply-ms', '0', ...holdArgs];
    const stoppable = fleet.sim(['--devices', '10', '--prefix', 'soft', ...hold]);
    const stubborn = fleet.sim(['--devices', '10', '--prefix', 'hard', ...hold, '--refuse-cancel-rate', '1']);
    await fleet.waitOnline(20);
    // Held installs report nothing: no ack timeout may end them while the test holds them.
    const rolloutId = await fleet.rollOut(['--ack-timeout', '10m']);
    await waitFor(async () => (await fleet!.status(rolloutId)).counts.installing === 20, {
      what: 'all installing',
    });
    expect((await fleet.fleet(['rollout', 'cancel', rolloutId, '--reason', 'wrong build'])).code).toBe(0);
    // The ten that can stop answer `canceled` while the other ten are still held mid-install.
    const answered = await waitFor(
      async () => {
        const s = await fleet!.status(rolloutId);
        return s.counts.canceled === 10 ? s : null;
      },
      { timeoutMs: 60_000, what: 'the stoppable devices to cancel' },
    );
    expect(answered.counts).toMatchObject({ installing: 10, succeeded: 0 });
    await release();
    const final = await waitFor(
      async () => {
        const s = await fleet!.status(rolloutId);
        return s.counts.installing + s.counts.verifying + s.counts.offered === 0 ? s : null;
      },
      { timeoutMs: 60_000, what: 'every device to answer the cancel' },
    );
    expect(final).toMatchObject({ status: 'canceled', reason: 'wrong build' });
    expect(final.counts).toMatchObject({ canceled: 10, succeeded: 10 });
    const soft = await stoppable.finish();
    const hard = await stubborn.finish();
    expect(soft).toMatchObject({ cancelsAccepted: 10 });
    expect(hard).toMatchObject({ cancelsRefused: 10 });
  });
});
