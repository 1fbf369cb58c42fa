import type { MaintenanceWindow } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodUnderTest } from '../testing/wire.js';

/**
 * Maintenance windows in each camera's local time, across a window boundary. The boundary is set
 * relative to Redis time (the clock the pods use), never by faking a clock: the windows are written
 * as the wall-clock times that moment has in each zone.
 */

let pod: PodUnderTest;

beforeAll(async () => {
  pod = await PodUnderTest.start({ FLEET_SWEEP_INTERVAL_MS: '200' });
});
afterAll(async () => {
  await pod?.close();
});

/** The wall-clock time `HH:MM:SS` of a moment in a zone. */
function clockIn(zone: string, ms: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(ms);
}

/** A daily window from one moment to another, as a device in `zone` reads its clock. */
function dailyIn(zone: string, from: number, to: number): MaintenanceWindow {
  return {
    days: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    start: clockIn(zone, from),
    end: clockIn(zone, to),
  };
}

async function deliveryOf(rolloutId: string, deviceId: string) {
  const detail = await pod.admin.client.devices.get.query({ deviceId });
  const delivery = detail.deliveries.find((d) => d.rolloutId === rolloutId);
  const offered = detail.history.find((h) => h.rolloutId === rolloutId && h.to === 'offered');
  return { delivery, offeredAt: offered?.at ?? null };
}

const second = (ms: number) => Math.floor(ms / 1000) * 1000;

describe('maintenance windows', () => {
  it('offers each camera its install inside its own window: three zones, one boundary crossed', async () => {
    const now = await pod.redisNow();
    // Far enough ahead for the setup below on a loaded machine.
    const boundary = now + 8_000;
    const tokyo = await pod.registeredDevice('win-tokyo', { tz: 'Asia/Tokyo' });
    const berlin = await pod.registeredDevice('win-berlin', { tz: 'Europe/Berlin' });
    const newYork = await pod.registeredDevice('win-ny', { tz: 'America/New_York' });
    // No tz label: the rollout's zone (Tokyo) applies.
    const unlabeled = await pod.registeredDevice('win-unlabeled', {});
    const created = await pod.admin.client.rollout.create.mutate({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['win-tokyo', 'win-berlin', 'win-ny', 'win-unlabeled'] },
      windows: [
        // Open in Tokyo now, until 10 minutes from now (elsewhere: hours away).
        dailyIn('Asia/Tokyo', now - 60_000, now + 600_000),
        // Opens in Berlin at the boundary (elsewhere: hours away).
        dailyIn('Europe/Berlin', boundary, boundary + 600_000),
      ],
      windowZone: 'Asia/Tokyo',
    });
    expect(created.windows).toHaveLength(2);

    // Inside their window now: Tokyo and the unlabeled camera are offered at once, told until when.
    for (const device of [tokyo, unlabeled]) {
      const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === created.id), {
        what: 'an offer inside the window',
      });
      expect(offer.installWindow?.closesAt).toBe(second(now + 600_000));
      expect(Number(offer.installWindow?.opensAt)).toBeLessThanOrEqual(now);
    }
    // Berlin and New York wait, counted as waiting for their windows.
    // New York waits for hours: counted as waiting for its window (Berlin too, until its boundary).
    await waitFor(
      async () => (await pod.admin.client.rollout.get.query({ rolloutId: created.id })).windowWaiting >= 1,
      { what: 'the cameras outside their windows counted as waiting' },
    );

    // Berlin's window opens at the boundary: offered then, not before.
    const offer = await waitFor(() => berlin.offers.find((o) => o.rolloutId === created.id), {
      timeoutMs: 30_000,
      what: 'the Berlin offer once its window opened',
    });
    expect(offer.installWindow).toEqual({ opensAt: second(boundary), closesAt: second(boundary + 600_000) });
    const { offeredAt } = await deliveryOf(created.id, 'win-berlin');
    expect(offeredAt).toBeGreaterThanOrEqual(second(boundary));

    // New York's windows are hours away: it still waits, due when the nearer one opens.
    const ny = await deliveryOf(created.id, 'win-ny');
    expect(ny.delivery).toMatchObject({ state: 'queued', attempt: 0 });
    expect(Number(ny.delivery?.retryAt)).toBeGreaterThan(now + 3_600_000);
    expect(newYork.offers.filter((o) => o.rolloutId === created.id)).toEqual([]);
    expect((await pod.admin.client.rollout.get.query({ rolloutId: created.id })).windowWaiting).toBe(1);
    await pod.admin.client.rollout.cancel.mutate({ rolloutId: created.id });
    expect((await pod.admin.client.rollout.get.query({ rolloutId: created.id })).windowWaiting).toBe(0);
  });

  it('lets an install under way when the window closes finish; requeues one that had not begun, without losing an attempt', async () => {
    const now = await pod.redisNow();
    // Far enough ahead for both cameras to be offered and report on a loaded machine.
    const closes = now + 12_000;
    const installing = await pod.registeredDevice('win-close-1', { tz: 'UTC' });
    const downloading = await pod.registeredDevice('win-close-2', { tz: 'UTC' });
    const created = await pod.admin.client.rollout.create.mutate({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['win-close-1', 'win-close-2'] },
      windows: [dailyIn('UTC', now - 60_000, closes)],
    });
    const [first, second_] = await Promise.all(
      [installing, downloading].map((device) =>
        waitFor(() => device.offers.find((o) => o.rolloutId === created.id), { what: 'the offer' }),
      ),
    );
    if (!first || !second_) throw new Error('no offers');
    await installing.client.device.report.mutate({
      deliveryId: first.deliveryId,
      attempt: 1,
      status: 'installing',
    });
    await downloading.client.device.report.mutate({
      deliveryId: second_.deliveryId,
      attempt: 1,
      status: 'downloading',
    });

    const requeued = await waitFor(
      async () => {
        const { delivery } = await deliveryOf(created.id, 'win-close-2');
        // Requeued by the sweeper, then given its next window's opening by the claim that follows.
        return delivery?.state === 'queued' && Number(delivery.retryAt) > 0 ? delivery : null;
      },
      { timeoutMs: 30_000, what: 'the download requeued when its window closed' },
    );
    expect(requeued).toMatchObject({ failures: 0 });
    const { history } = await pod.admin.client.devices.get.query({ deviceId: 'win-close-2' });
    const back = history.find(
      (h) => h.rolloutId === created.id && h.from === 'downloading' && h.to === 'queued',
    );
    expect(back?.error).toBe('maintenance window closed before the install began');
    // Due again in tomorrow's window.
    expect(Number(requeued.retryAt)).toBeGreaterThan(now + 20 * 3_600_000);
    await expect(
      downloading.client.device.report.mutate({
        deliveryId: second_.deliveryId,
        attempt: 1,
        status: 'downloading',
      }),
    ).rejects.toMatchObject({ data: { fleetCode: 'STALE_ATTEMPT' } });

    // The install that had begun finishes after the close, and counts.
    const version = (await pod.admin.client.rollout.get.query({ rolloutId: created.id })).patch.version;
    const done = await installing.client.device.report.mutate({
      deliveryId: first.deliveryId,
      attempt: 1,
      status: 'succeeded',
      firmwareVersion: version,
    });
    expect(done.state).toBe('succeeded');
    await pod.admin.client.rollout.cancel.mutate({ rolloutId: created.id });
  });

  it('with download-ahead offers at once, keeps the quiet attempt alive until its window, and refuses an install before it', async () => {
    const now = await pod.redisNow();
    // Far enough ahead for the setup below on a loaded machine.
    const opens = now + 12_000;
    const device = await pod.registeredDevice('win-ahead', { tz: 'Europe/Berlin' });
    const created = await pod.admin.client.rollout.create.mutate({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['win-ahead'] },
      windows: [dailyIn('Europe/Berlin', opens, opens + 600_000)],
      downloadAhead: true,
      // Far shorter than the wait for the window: only the window keeps the attempt alive.
      ackTimeoutMs: 1_000,
    });
    const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === created.id), {
      what: 'the offer ahead of the window',
    });
    expect(offer.installWindow).toEqual({ opensAt: second(opens), closesAt: second(opens + 600_000) });
    expect((await deliveryOf(created.id, 'win-ahead')).offeredAt).toBeLessThan(second(opens));
    await device.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'downloading',
      progress: 100,
    });
    await expect(
      device.client.device.report.mutate({ deliveryId: offer.deliveryId, attempt: 1, status: 'installing' }),
    ).rejects.toMatchObject({ data: { fleetCode: 'INVALID_TRANSITION' } });
    // Quiet until the window opens (far past its ack timeout), then it installs: still attempt 1.
    await waitFor(async () => (await pod.redisNow()) >= second(opens), {
      timeoutMs: 20_000,
      what: 'the window to open',
    });
    const installing = await device.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'installing',
    });
    expect(installing).toMatchObject({ state: 'installing', attempt: 1 });
    expect((await deliveryOf(created.id, 'win-ahead')).delivery).toMatchObject({ failures: 0 });
    await pod.admin.client.rollout.cancel.mutate({ rolloutId: created.id });
  });

  it('gives a limited rollout’s place to a camera inside its window, not to one waiting for its window', async () => {
    const now = await pod.redisNow();
    const waiting = await pod.registeredDevice('win-cap-ny', { tz: 'America/New_York' });
    const inside = await pod.registeredDevice('win-cap-tokyo', { tz: 'Asia/Tokyo' });
    const created = await pod.admin.client.rollout.create.mutate({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['win-cap-ny', 'win-cap-tokyo'] },
      windows: [dailyIn('Asia/Tokyo', now - 60_000, now + 600_000)],
      maxInFlight: 1,
    });
    await waitFor(() => inside.offers.find((o) => o.rolloutId === created.id), {
      what: 'the camera inside its window offered the one place',
    });
    expect(waiting.offers.filter((o) => o.rolloutId === created.id)).toEqual([]);
    const status = await pod.admin.client.rollout.get.query({ rolloutId: created.id });
    expect(status.counts.offered).toBe(1);
    expect(status.windowWaiting).toBe(1);
    await pod.admin.client.rollout.cancel.mutate({ rolloutId: created.id });
  });
});
