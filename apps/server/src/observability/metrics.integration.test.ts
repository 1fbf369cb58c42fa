import { createDeviceClient, enrollDevice } from '@camfleet/client';
import { waitFor } from '@camfleet/test-support';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RunningServer } from '../server.js';
import { startTestPod } from '../testing/in-process.js';
import { hasMetric, parseExposition, type Samples, sample } from '../testing/prometheus.js';
import { ENROLL_TOKEN, failure, podPerSuite } from '../testing/wire.js';

const suite = podPerSuite({ cleanRollouts: true });

async function scrape(url: string): Promise<Samples> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
  return parseExposition(await response.text());
}

/** Waits until a scrape of `url` satisfies `check`; returns that scrape. */
function scrapeUntil(url: string, check: (m: Samples) => boolean, what: string): Promise<Samples> {
  return waitFor(
    async () => {
      const m = await scrape(url);
      return check(m) ? m : null;
    },
    { what },
  );
}

describe('GET /metrics', () => {
  it('serves the Prometheus text format with the Node defaults and every camfleet metric', async () => {
    const m = await scrape(suite.pod.url);
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'camfleet_connected_devices',
      'camfleet_connections',
      'camfleet_live_rollouts',
      'camfleet_sweep_claimed_total',
      'camfleet_timeouts_total',
      'camfleet_retries_total',
    ]) {
      expect(hasMetric(m, name), name).toBe(true);
    }
    await scrapeUntil(
      suite.pod.url,
      (s) => (sample(s, 'camfleet_reconcile_runs_total', { loop: 'sweep' }) ?? 0) > 0,
      'a sweep pass counted',
    );
  });

  it('follows a device through connect, offer and reports', async () => {
    const before = await scrape(suite.pod.url);
    const offersBefore = sample(before, 'camfleet_offers_sent_total', { type: 'offer' }) ?? 0;

    const device = await suite.pod.connectDevice('metrics-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const connected = await scrapeUntil(
      suite.pod.url,
      (s) => sample(s, 'camfleet_connected_devices') === 1,
      'the device counted as connected',
    );
    expect(sample(connected, 'camfleet_connections', { kind: 'device' })).toBe(1);

    const rollout = await suite.pod.publishAndRollOut();
    const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === rollout.id), {
      what: 'the offer',
    });
    const offered = await scrape(suite.pod.url);
    expect(sample(offered, 'camfleet_offers_sent_total', { type: 'offer' })).toBe(offersBefore + 1);
    expect(sample(offered, 'camfleet_deliveries', { rollout: rollout.id, state: 'offered' })).toBe(1);
    expect(sample(offered, 'camfleet_deliveries', { rollout: rollout.id, state: 'succeeded' })).toBe(0);
    expect(sample(offered, 'camfleet_live_rollouts')).toBe(1);
    expect(
      sample(offered, 'camfleet_redis_command_seconds_count', { script: 'rollout_attach' }),
    ).toBeGreaterThan(0);
    // The rollout's attach offered the idle device its work, and the offer went to its pod.
    expect(sample(offered, 'camfleet_hints_total', { kind: 'offers' })).toBeGreaterThan(0);

    const report = {
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'succeeded' as const,
      firmwareVersion: offer.patch.version,
    };
    await device.client.device.report.mutate(report);
    await device.client.device.report.mutate(report);
    const stolen = await failure(
      device.client.device.report.mutate({ ...report, deliveryId: `${rollout.id}:someone-else` }),
    );
    expect(stolen.fleet).toBe('FORBIDDEN');

    const reported = await scrape(suite.pod.url);
    const reports = (outcome: string) =>
      sample(reported, 'camfleet_reports_total', { status: 'succeeded', outcome });
    expect(reports('accepted')).toBe(1);
    expect(reports('duplicate')).toBe(1);
    expect(reports('FORBIDDEN')).toBe(1);
    expect(sample(reported, 'camfleet_deliveries', { rollout: rollout.id, state: 'offered' })).toBe(0);
    expect(sample(reported, 'camfleet_deliveries', { rollout: rollout.id, state: 'succeeded' })).toBe(1);
    expect(
      sample(reported, 'camfleet_redis_command_seconds_count', { script: 'delivery_report' }),
    ).toBeGreaterThanOrEqual(2);

    // A rollout that is no longer live leaves the deliveries gauge.
    await suite.pod.admin.client.rollout.cancel.mutate({ rolloutId: rollout.id });
    const ended = await scrape(suite.pod.url);
    expect(sample(ended, 'camfleet_deliveries', { rollout: rollout.id, state: 'succeeded' })).toBeUndefined();
    expect(sample(ended, 'camfleet_live_rollouts')).toBe(0);

    device.wsClient.close();
    await scrapeUntil(suite.pod.url, (s) => sample(s, 'camfleet_connected_devices') === 0, 'the device gone');
  });

  it('counts the timeouts and retries the sweeper finds', async () => {
    const before = await scrape(suite.pod.url);
    const device = await suite.pod.connectDevice('metrics-silent');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const rollout = await suite.pod.publishAndRollOut({ ackTimeoutMs: 300 });
    await waitFor(() => device.offers.find((o) => o.rolloutId === rollout.id && o.attempt === 2), {
      what: 'the second attempt',
    });
    const after = await scrape(suite.pod.url);
    const grew = (name: string) => (sample(after, name) ?? 0) - (sample(before, name) ?? 0);
    expect(grew('camfleet_timeouts_total')).toBeGreaterThanOrEqual(1);
    expect(grew('camfleet_retries_total')).toBeGreaterThanOrEqual(1);
    expect(grew('camfleet_sweep_claimed_total')).toBeGreaterThanOrEqual(1);
    expect(
      (sample(after, 'camfleet_offers_sent_total', { type: 'offer' }) ?? 0) -
        (sample(before, 'camfleet_offers_sent_total', { type: 'offer' }) ?? 0),
    ).toBeGreaterThanOrEqual(2);
    device.wsClient.close();
  });

  it('keeps each pod’s metrics apart, even in one process', async () => {
    const other: RunningServer = await startTestPod(suite.pod.redisServer.url, { FLEET_NODE_ID: 'other' });
    const devices: Array<ReturnType<typeof createDeviceClient>> = [];
    try {
      const [a0, b0] = await Promise.all([scrape(suite.pod.url), scrape(other.url)]);
      expect(sample(b0, 'camfleet_connected_devices')).toBe(0);
      expect(sample(b0, 'camfleet_offers_sent_total', { type: 'offer' })).toBeUndefined();

      // Two devices on the other pod, none on the first.
      for (const deviceId of ['apart-1', 'apart-2']) {
        const secret = await enrollDevice(other.url, deviceId, ENROLL_TOKEN);
        const device = createDeviceClient({ baseUrl: other.url, deviceId, credentials: { secret } });
        devices.push(device);
        await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
        device.client.device.offers.subscribe({}, { onData: () => undefined, onError: () => undefined });
      }
      await suite.pod.publishAndRollOut();
      const b1 = await scrapeUntil(
        other.url,
        (s) => sample(s, 'camfleet_offers_sent_total', { type: 'offer' }) === 2,
        'both offers counted on the other pod',
      );
      expect(sample(b1, 'camfleet_connected_devices')).toBe(2);
      expect(sample(b1, 'camfleet_connections', { kind: 'device' })).toBe(2);

      const a1 = await scrape(suite.pod.url);
      expect(sample(a1, 'camfleet_connected_devices')).toBe(sample(a0, 'camfleet_connected_devices'));
      expect(sample(a1, 'camfleet_offers_sent_total', { type: 'offer' })).toBe(
        sample(a0, 'camfleet_offers_sent_total', { type: 'offer' }),
      );
      // Both pods run their own loops and count them in their own registries.
      expect(sample(b1, 'camfleet_reconcile_runs_total', { loop: 'sweep' })).toBeGreaterThan(0);
      expect(hasMetric(b1, 'nodejs_eventloop_lag_seconds')).toBe(true);
    } finally {
      for (const device of devices) device.wsClient.close();
      await other.close();
    }
  });
});
