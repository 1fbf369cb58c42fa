import { createAdminClient } from '@camfleet/client';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { failure, podPerSuite } from './testing/wire.js';

const suite = podPerSuite({ cleanRollouts: true });

describe('health', () => {
  it('is alive and ready once Redis is reachable and the scripts are loaded', async () => {
    expect((await fetch(`${suite.pod.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${suite.pod.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, redis: 'ready' });
    expect((await fetch(`${suite.pod.url}/nope`)).status).toBe(404);
  });
});

describe('authentication', () => {
  it('refuses a device with a wrong token once, without a reconnect loop', async () => {
    const device = await suite.pod.connectDevice('intruder', { secret: 'not-a-real-secret' });
    await waitFor(() => device.rejected(), { what: 'the rejection' });
    expect(device.rejected()).toMatch(/refused/);
    // The refused socket closes; a client that would loop schedules its reconnect in that very close
    // handler (it asks for the retry delay there). Once the close is seen, none was scheduled, and
    // with no socket left and no reconnect pending nothing can open another.
    await waitFor(() => device.closes() > 0, { what: 'the refused socket to close' });
    expect(device.reconnects()).toBe(0);
    expect(device.opens()).toBe(1);
    expect(await suite.pod.redis.exists(suite.pod.keys.device('intruder'))).toBe(0);
  });

  it('refuses admin calls with a wrong or missing token', async () => {
    const wrong = createAdminClient(suite.pod.url, 'not-the-token');
    expect(await failure(wrong.client.patch.list.query())).toMatchObject({ trpc: 'UNAUTHORIZED' });
    const response = await fetch(`${suite.pod.url}/trpc/fleet.stats`);
    expect(response.status).toBe(401);
    wrong.close();
  });

  it('keeps a device to its own deliveries', async () => {
    const victim = await suite.pod.connectDevice('victim-1');
    await victim.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const attacker = await suite.pod.connectDevice('attacker-1');
    await attacker.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await suite.pod.publishAndRollOut();
    await waitFor(() => victim.offers.length > 0, { what: 'the victim offer' });
    const before = await suite.pod.digest();
    const stolen = attacker.client.device.report.mutate({
      deliveryId: `${rollout.id}:victim-1`,
      attempt: 1,
      status: 'failed',
      error: 'sabotage',
    });
    expect(await failure(stolen)).toEqual({ trpc: 'FORBIDDEN', fleet: 'FORBIDDEN' });
    expect(await suite.pod.digest()).toBe(before);
  });
});

describe('pushed offers', () => {
  it('pushes an offer the moment a rollout starts, and resumes after a reconnect without repeating it', async () => {
    const device = await suite.pod.connectDevice('push-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await suite.pod.publishAndRollOut();
    const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === rollout.id), {
      what: 'the offer',
    });
    expect(offer.attempt).toBe(1);
    const before = device.offers.length;

    // Drop the socket: the client reconnects and resubscribes with lastEventId.
    const opens = device.opens();
    device.wsClient.connection?.ws?.close();
    await waitFor(() => device.opens() > opens, { what: 'the reconnect' });
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });

    // No sleep for "nothing more came": the report's answer is the barrier. The resubscribe goes
    // out as the new socket opens, the report only after the register's answer, so the pod starts
    // the subscription (and claims the device's work again: the same attempt, which it must not
    // push again) before it reads the report; a claim after the report finds the delivery finished.
    // A repeated offer would be sent on this socket ahead of the report's answer.
    await device.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'succeeded',
      firmwareVersion: offer.patch.version,
    });
    expect(device.offers.length).toBe(before);
    const status = await suite.pod.admin.client.rollout.get.query({ rolloutId: rollout.id });
    expect(status.counts.succeeded).toBeGreaterThanOrEqual(1);
  });

  it('re-offers after the ack timeout when the device stays silent', async () => {
    const device = await suite.pod.connectDevice('silent-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    // A long ack timeout, and only the first attempt's deadline moves into the past: the retry's
    // stays a minute ahead, so its state below is stable however slow the machine is.
    const rollout = await suite.pod.publishAndRollOut({
      ackTimeoutMs: 60_000,
      retryBackoff: { baseMs: 10, maxMs: 10 },
    });
    await waitFor(() => device.offers.find((o) => o.rolloutId === rollout.id && o.attempt === 1), {
      what: 'the first attempt',
    });
    await suite.pod.passDeadline(rollout.id, 'silent-1');
    const retry = await waitFor(
      () => device.offers.find((o) => o.rolloutId === rollout.id && o.attempt === 2),
      { what: 'the second attempt', timeoutMs: 30_000 },
    );
    expect(retry.deliveryId).toBe(`${rollout.id}:silent-1`);
    const detail = await suite.pod.admin.client.devices.get.query({ deviceId: 'silent-1' });
    const delivery = detail.deliveries.find((d) => d.rolloutId === rollout.id);
    expect(delivery).toMatchObject({ state: 'offered', attempt: 2, failures: 1 });
    expect(delivery?.lastError).toMatch(/ack timeout/);
  });
});
