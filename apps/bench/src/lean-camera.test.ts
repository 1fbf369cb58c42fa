import { createAdminClient } from '@camfleet/client';
import { PodProcess, RedisServer, TEST_TOKENS, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LeanEvent, LeanFleet } from './lean-camera.js';

const CAMERAS = 20;

// The lean camera against real pods: it must behave like a camera (docs/device-protocol.md), or the
// benchmark measures a server that is not doing its real work.
describe('the lean camera', () => {
  let redis: RedisServer;
  let pods: PodProcess[];
  let admin: ReturnType<typeof createAdminClient>;
  let fleet: LeanFleet;
  const events: LeanEvent[] = [];
  const secrets = new Map<string, string>();
  /** Device → the pod it is subscribed on now. */
  const subscribedOn = new Map<string, string>();

  beforeAll(async () => {
    redis = await RedisServer.start();
    // Keepalive after 2 s of quiet (30 s in production): the PING case need not wait half a minute.
    const env = { FLEET_WS_PING_MS: '2000' };
    pods = await Promise.all([
      PodProcess.start(redis.url, 'lean-1', env),
      PodProcess.start(redis.url, 'lean-2', env),
    ]);
    admin = createAdminClient(pods[0]?.url ?? '', TEST_TOKENS.admin);
    fleet = new LeanFleet({
      urls: pods.map((pod) => pod.url),
      devices: CAMERAS,
      prefix: 'lean',
      labels: { bench: 'lean' },
      credentials: {
        secretOf: (id) => secrets.get(id),
        save: (id, secret) => secrets.set(id, secret),
      },
      enrollToken: TEST_TOKENS.enroll,
      backoff: { baseMs: 100, maxMs: 1_000 },
      connectTimeoutMs: 10_000,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'subscribed') subscribedOn.set(event.deviceId, event.url);
        if (event.type === 'disconnected') subscribedOn.delete(event.deviceId);
      },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    admin?.close();
    await Promise.all((pods ?? []).map((pod) => pod.kill('SIGKILL')));
    await redis?.destroy();
  });

  async function rollOut(version: string): Promise<void> {
    const patch = await admin.client.patch.publish.mutate({ name: 'lean-fw', version });
    const rollout = await admin.client.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'selector', selector: 'bench=lean' },
    });
    await waitFor(
      async () =>
        (await admin.client.rollout.get.query({ rolloutId: rollout.id })).counts.succeeded === CAMERAS,
      { timeoutMs: 30_000, what: `${CAMERAS} deliveries of ${version} to succeed` },
    );
  }

  it('enrolls, registers, subscribes and answers every offer with a succeeded report', async () => {
    fleet.start();
    await waitFor(() => subscribedOn.size === CAMERAS, {
      timeoutMs: 30_000,
      what: 'every camera subscribed',
    });
    expect(fleet.counters).toMatchObject({ enrolled: CAMERAS, connects: CAMERAS, registered: CAMERAS });
    expect(secrets.size).toBe(CAMERAS);
    // Spread over both pods, own pod first.
    expect(new Set(subscribedOn.values()).size).toBe(2);

    await rollOut('2.0.0');
    expect(fleet.counters).toMatchObject({
      offers: CAMERAS,
      reportsSent: CAMERAS,
      reportsSucceeded: CAMERAS,
      reportErrors: {},
    });
    // The server holds what the cameras said they run now.
    const device = await admin.client.devices.get.query({ deviceId: fleet.devices[0]?.id ?? '' });
    expect(device.device.firmwareVersion).toBe('2.0.0');
  });

  it('leaves a draining pod on its reconnect notice and carries on from the other pod', async () => {
    const draining = pods[1]?.url ?? '';
    const moving = [...subscribedOn].filter(([, url]) => url === draining).map(([id]) => id);
    expect(moving.length).toBeGreaterThan(0);
    await pods[1]?.kill('SIGTERM');
    expect(fleet.counters.reconnectNotices).toBe(moving.length);
    await waitFor(() => moving.every((id) => subscribedOn.get(id) === pods[0]?.url), {
      timeoutMs: 20_000,
      what: 'the draining pod’s cameras subscribed on the other pod',
    });
    // They closed with 1000 themselves, registered again with the version they run, and got no
    // offer for the delivery already done.
    expect(fleet.counters.closes['1000']).toBe(moving.length);
    expect(fleet.counters.registered).toBe(CAMERAS + moving.length);
    expect(fleet.counters.offers).toBe(CAMERAS);
    const device = await admin.client.devices.get.query({ deviceId: moving[0] ?? '' });
    expect(device.device).toMatchObject({ firmwareVersion: '2.0.0', online: true });

    await rollOut('2.0.1');
    expect(fleet.counters).toMatchObject({ offers: 2 * CAMERAS, reportsSucceeded: 2 * CAMERAS });
  });

  it('answers the pod’s PING with PONG and keeps its connection', { timeout: 90_000 }, async () => {
    const connects = fleet.counters.connects;
    // The pods ping a socket quiet for 2 s here.
    await waitFor(() => fleet.counters.pongs >= CAMERAS, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'a PONG from every camera',
    });
    expect(fleet.counters.connects).toBe(connects);
    expect((await admin.client.fleet.stats.query()).online).toBe(CAMERAS);
  });
});
