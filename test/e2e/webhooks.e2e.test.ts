import type { CreatedWebhook, WebhookDelivery, WebhookEndpoint } from '@camfleet/contracts';
import { type PodProcess, waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifies, WebhookReceiver } from '../../apps/server/src/testing/webhook-receiver.js';
import { TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 90_000 });

/**
 * Pods as real processes, a loopback receiver, cameras and the CLI. The pods may send to loopback;
 * a send's timeout (3 s) is far longer than the test takes to kill the pod holding it, so the kill
 * lands mid-send by construction.
 */
const POD_ENV = {
  FLEET_WEBHOOK_ALLOW_PRIVATE: '1',
  FLEET_WEBHOOK_POLL_MS: '100',
  FLEET_WEBHOOK_TIMEOUT_MS: '3000',
  FLEET_WEBHOOK_RETRY_BASE_MS: '100',
  FLEET_WEBHOOK_RETRY_MAX_MS: '500',
};

let fleet: TestFleet | null = null;
let receiver: WebhookReceiver | null = null;
afterEach(async () => {
  await fleet?.down();
  await receiver?.stop();
  fleet = null;
  receiver = null;
});

/** Webhook sends a pod process has under way, from its /metrics. */
async function sendsInFlight(pod: PodProcess): Promise<number> {
  const text = await (await fetch(`${pod.url}/metrics`)).text();
  return Number(/^camfleet_webhook_sends_in_flight (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('webhooks across pod processes', () => {
  it('loses nothing when the pod sending is killed mid-send: the same event comes again with its id', async () => {
    receiver = await WebhookReceiver.start();
    const r = receiver;
    // Every request is held unanswered until the pod sending it is killed.
    r.answer = () => 'hang';
    const f = await TestFleet.up(2, { podEnv: POD_ENV });
    fleet = f;

    const created = await f.fleetJson<CreatedWebhook>([
      'webhook',
      'create',
      '--url',
      r.url(),
      '--events',
      'rollout.*,delivery.succeeded',
      '--description',
      'e2e',
    ]);
    expect(created.secret).toMatch(/^whsec_/);
    const sim = f.sim(['--devices', '3']);
    await f.waitOnline(3);
    const rollout = await f.rollOut();
    await f.waitSettled(rollout, { targeted: 3 });

    // A pod with a send under way (the receiver holds it) is killed.
    await waitFor(() => r.holding > 0, { what: 'a send held by the receiver' });
    const counts = await Promise.all(f.pods.map(sendsInFlight));
    const victim = f.pods[counts.findIndex((n) => n > 0)];
    if (!victim) throw new Error(`no pod has a send in flight: ${counts.join(',')}`);
    const held = r.received.map((request) => request.id);
    await victim.kill('SIGKILL');
    r.answer = () => ({ status: 200 });

    // Everything the endpoint asked for arrives, from the pod left, once the killed pod's leases end.
    const events = (await f.admin.client.events.list.query({ limit: 1000 })).filter(
      (e) =>
        e.at >= created.createdAt &&
        e.rolloutId === rollout &&
        (e.kind === 'rollout' || e.to === 'succeeded'),
    );
    expect(events.filter((e) => e.kind === 'delivery')).toHaveLength(3);
    await waitFor(() => events.every((e) => r.delivered.has(e.id)), {
      what: 'every event after the kill',
      timeoutMs: 30_000,
    });
    // Duplicates only with the same id: what was held came again, the same bytes, the same delivery.
    for (const id of held) {
      const tries = r.forEvent(id);
      expect(tries.length).toBeGreaterThanOrEqual(2);
      expect(new Set(tries.map((t) => t.body)).size).toBe(1);
      expect(new Set(tries.map((t) => t.delivery))).toEqual(new Set([`${created.id}/${id}`]));
    }
    expect(r.received.every((request) => verifies(created.secret, request))).toBe(true);
    expect(r.received.every((request) => events.some((e) => e.id === request.id))).toBe(true);

    // The CLI shows the endpoint and its log, and pings it.
    const [shown, log] = await Promise.all([
      f.fleetJson<WebhookEndpoint>(['webhook', 'show', created.id]),
      f.fleetJson<WebhookDelivery[]>(['webhook', 'deliveries', created.id, '--limit', '100']),
    ]);
    expect(shown).toMatchObject({ id: created.id, enabled: true, description: 'e2e' });
    expect(log.filter((d) => d.state === 'delivered').map((d) => d.eventId)).toEqual(
      expect.arrayContaining(events.map((e) => e.id)),
    );
    expect(log.filter((d) => held.includes(d.eventId)).every((d) => d.attempts >= 2)).toBe(true);
    const ping = await f.fleet(['webhook', 'test', created.id]);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toMatch(new RegExp(`^ping ping_[0-9a-f]+ to webhook ${created.id}: HTTP 200`));
    await sim.finish();
  });
});
