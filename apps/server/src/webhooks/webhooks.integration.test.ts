import { createAdminClient, TRPCClientError } from '@camfleet/client';
import type { CreatedWebhook, FleetEvent, WebhookDelivery } from '@camfleet/contracts';
import { startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../server.js';
import { ADMIN_TOKEN, startTestPod } from '../testing/in-process.js';
import { ScriptDriver } from '../testing/script-driver.js';
import { verifies, WebhookReceiver } from '../testing/webhook-receiver.js';

/*
 * Webhooks end to end inside one process: real Redis, two pods (their loops pump and send), a real
 * HTTP receiver on loopback, events made by the transitions themselves (a ScriptDriver on the pods'
 * key prefix). The pods may send to loopback (FLEET_WEBHOOK_ALLOW_PRIVATE=1) unless a test says not.
 */

let redis: TestRedis;
let prefixes = 0;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});
afterAll(async () => {
  await redis.destroy();
});

/** Pods fast enough for tests: short polls, backoff and timeout. */
const FAST = {
  FLEET_WEBHOOK_ALLOW_PRIVATE: '1',
  FLEET_WEBHOOK_POLL_MS: '50',
  FLEET_WEBHOOK_RETRY_BASE_MS: '50',
  FLEET_WEBHOOK_RETRY_MAX_MS: '300',
  FLEET_WEBHOOK_TIMEOUT_MS: '1000',
  FLEET_LEASE_MS: '2000',
};

/** Pods on a key prefix of their own, a driver making events there, and a receiver. */
async function fleetWith(env: Record<string, string> = {}, podCount = 2) {
  const prefix = `wh${++prefixes}`;
  const pods: RunningServer[] = [];
  for (let i = 0; i < podCount; i++) {
    const pod = await startTestPod(redis.url, { ...FAST, FLEET_KEY_PREFIX: prefix, ...env });
    pods.push(pod);
    cleanup.push(() => pod.close());
  }
  const driver = new ScriptDriver(redis.url, prefix);
  cleanup.push(() => driver.close());
  const receiver = await WebhookReceiver.start();
  cleanup.push(() => receiver.stop());
  const [first] = pods;
  if (!first) throw new Error('no pod');
  return { pods, driver, receiver, webhooks: first.fleet.webhooks, first };
}

type Fleet = Awaited<ReturnType<typeof fleetWith>>;

/** Rollout and delivery events: a rollout that one camera installs, another paused and resumed. */
async function makeEvents(driver: ScriptDriver): Promise<void> {
  await driver.register('cam-1');
  const rollout = await driver.rollout((await driver.publish()).id);
  const offer = await driver.claim('cam-1');
  if (!offer) throw new Error('no offer');
  await driver.report('cam-1', rollout.id, offer.attempt, 'succeeded');
  const other = await driver.rollout((await driver.publish()).id);
  await driver.fleet.rollouts.pause(other.id, 'ops', 'checking');
  await driver.fleet.rollouts.resume(other.id, 'ops');
}

/** The fleet's events since the endpoint was created, of the types it asked for. */
async function eventsFor(driver: ScriptDriver, endpoint: CreatedWebhook, kind?: FleetEvent['kind']) {
  const events = await driver.fleet.events.list({ limit: 1000 });
  return events.filter((e) => e.at >= endpoint.createdAt && (!kind || e.kind === kind));
}

const deliveriesOf = (f: Fleet, id: string): Promise<WebhookDelivery[]> =>
  f.webhooks.deliveries({ id, limit: 1000 });

/** A pod's metric, summed over every pod (each pod counts what it did). */
async function metricSum(pods: RunningServer[], name: string, labels = ''): Promise<number> {
  let sum = 0;
  for (const pod of pods) {
    const text = await pod.fleet.deps.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    sum += Number(line?.split(' ')[1] ?? 0);
  }
  return sum;
}

describe('webhooks from pods to a receiver', () => {
  it('sends every event once, signed, with its own id, type and delivery headers', async () => {
    const f = await fleetWith();
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['*'], description: 'all' },
      'ops',
    );
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    await makeEvents(f.driver);
    const expected = await eventsFor(f.driver, endpoint);
    expect(expected.some((e) => e.kind === 'rollout')).toBe(true);
    expect(expected.some((e) => e.kind === 'delivery')).toBe(true);
    await waitFor(() => expected.every((e) => f.receiver.delivered.has(e.id)), {
      what: 'every event at the receiver',
    });
    for (const request of f.receiver.received) {
      expect(verifies(endpoint.secret, request), request.body).toBe(true);
      expect(verifies('whsec_someone-else', request)).toBe(false);
      expect(request.delivery).toBe(`${endpoint.id}/${request.id}`);
      expect(request.event).toBe(request.type);
      expect(JSON.parse(request.body)).toEqual({
        id: request.id,
        type: request.type,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        data: expect.any(Object),
      });
    }
    const paused = f.receiver.received.find((r) => r.type === 'rollout.paused');
    expect(JSON.parse(paused?.body ?? '{}').data).toMatchObject({ actor: 'ops', reason: 'checking' });
    const succeeded = f.receiver.received.find((r) => r.type === 'delivery.succeeded');
    expect(JSON.parse(succeeded?.body ?? '{}').data).toMatchObject({ deviceId: 'cam-1', to: 'succeeded' });
    // No pod was killed and no send outlived its lease: each event arrived once.
    expect([...f.receiver.deliveredCount.values()].every((n) => n === 1)).toBe(true);
    const log = await waitFor(
      async () => {
        const l = await deliveriesOf(f, endpoint.id);
        return l.length >= expected.length && l.every((d) => d.state === 'delivered') ? l : null;
      },
      { what: 'the log to show every delivery delivered' },
    );
    expect(log.map((d) => d.eventId)).toEqual(expect.arrayContaining(expected.map((e) => e.id)));
    expect((await f.webhooks.get(endpoint.id)).delivered).toBe(log.length);
  });

  it('sends only the types an endpoint asked for', async () => {
    const f = await fleetWith({}, 1);
    const failed = await f.webhooks.create(
      { url: f.receiver.url('/failed'), events: ['delivery.failed', 'rollout.paused'], description: '' },
      'ops',
    );
    await f.driver.register('cam-1');
    const rollout = await f.driver.rollout((await f.driver.publish()).id, { maxAttempts: 1 });
    const offer = await f.driver.claim('cam-1');
    await f.driver.report('cam-1', rollout.id, offer?.attempt ?? 0, 'failed', 'disk full');
    await f.driver.fleet.rollouts.pause((await f.driver.rollout((await f.driver.publish()).id)).id, 'ops');
    const wanted = (await eventsFor(f.driver, failed)).filter(
      (e) => (e.kind === 'delivery' && e.to === 'failed') || (e.kind === 'rollout' && e.type === 'paused'),
    );
    expect(wanted).toHaveLength(2);
    await waitFor(() => wanted.every((e) => f.receiver.delivered.has(e.id)), { what: 'the two events' });
    // Every event the endpoint did not ask for was left out when the deliveries were made.
    expect((await deliveriesOf(f, failed.id)).map((d) => d.type).sort()).toEqual([
      'delivery.failed',
      'rollout.paused',
    ]);
  });

  it('retries a receiver answering 500 with backoff until it answers 200; the log shows the attempts', async () => {
    const f = await fleetWith();
    f.receiver.answer = (_request, seen) => (seen <= 2 ? { status: 500 } : { status: 200 });
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['rollout.*'], description: '' },
      'ops',
    );
    await makeEvents(f.driver);
    const expected = await eventsFor(f.driver, endpoint, 'rollout');
    await waitFor(() => expected.every((e) => f.receiver.delivered.has(e.id)), { what: 'rollout events' });
    for (const event of expected) {
      const tries = f.receiver.forEvent(event.id);
      expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
      // The same event, the same delivery, the same bytes on every attempt; each signed afresh.
      expect(new Set(tries.map((t) => t.delivery)).size).toBe(1);
      expect(new Set(tries.map((t) => t.body)).size).toBe(1);
      expect(tries.every((t) => verifies(endpoint.secret, t))).toBe(true);
    }
    const log = await waitFor(
      async () => {
        const l = await deliveriesOf(f, endpoint.id);
        return l.length >= expected.length && l.every((d) => d.state === 'delivered') ? l : null;
      },
      { what: 'the log to show them delivered' },
    );
    expect(log.every((d) => d.attempts === 3 && d.lastStatus === 200 && d.deliveredAt !== null)).toBe(true);
    expect(await metricSum(f.pods, 'camfleet_webhook_sends_total', '{outcome="http"}')).toBe(2 * log.length);
    expect(await metricSum(f.pods, 'camfleet_webhook_sends_total', '{outcome="delivered"}')).toBe(log.length);
    expect((await f.webhooks.get(endpoint.id)).consecutiveFailures).toBe(0);
  });

  it('gives a receiver that does not answer in time another attempt', async () => {
    const f = await fleetWith({ FLEET_WEBHOOK_TIMEOUT_MS: '300' }, 1);
    f.receiver.answer = (_request, seen) => (seen === 1 ? 'hang' : { status: 204 });
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['rollout.created'], description: '' },
      'ops',
    );
    await f.driver.rollout((await f.driver.publish()).id);
    const [created] = await eventsFor(f.driver, endpoint, 'rollout');
    if (!created) throw new Error('no event');
    await waitFor(() => f.receiver.delivered.has(created.id), { what: 'the second attempt' });
    expect(f.receiver.forEvent(created.id).map((r) => r.attempt)).toEqual([1, 2]);
    expect(await metricSum(f.pods, 'camfleet_webhook_sends_total', '{outcome="timeout"}')).toBe(1);
  });

  it('sends everything to a receiver that was down for a while once it is back', async () => {
    const f = await fleetWith({ FLEET_WEBHOOK_MAX_ATTEMPTS: '1000', FLEET_WEBHOOK_DISABLE_AFTER: '100000' });
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['*'], description: '' },
      'ops',
    );
    await f.receiver.stop();
    await makeEvents(f.driver);
    const expected = await eventsFor(f.driver, endpoint);
    // Every delivery has failed at least twice against the closed port.
    await waitFor(
      async () => {
        const log = await deliveriesOf(f, endpoint.id);
        return log.length >= expected.length && log.every((d) => d.state === 'pending' && d.attempts >= 2);
      },
      { what: 'every delivery to have failed twice' },
    );
    const pending = await deliveriesOf(f, endpoint.id);
    expect(pending.every((d) => d.lastStatus === null && d.lastError === 'ECONNREFUSED')).toBe(true);
    expect((await f.webhooks.get(endpoint.id)).backlog).toBe(pending.length);
    await f.receiver.restart();
    await waitFor(() => pending.every((d) => f.receiver.delivered.has(d.eventId)), {
      what: 'everything after the receiver came back',
    });
    expect([...f.receiver.deliveredCount.values()].every((n) => n === 1)).toBe(true);
    await waitFor(async () => (await f.webhooks.get(endpoint.id)).backlog === 0, {
      what: 'an empty backlog',
    });
  });

  it('disables an endpoint after N consecutive failures, says so, and sends its backlog when enabled', async () => {
    const f = await fleetWith({ FLEET_WEBHOOK_DISABLE_AFTER: '3', FLEET_WEBHOOK_MAX_ATTEMPTS: '100' });
    f.receiver.answer = () => ({ status: 503 });
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['rollout.*'], description: '' },
      'ops',
    );
    const rollout = await f.driver.rollout((await f.driver.publish()).id);
    const disabled = await waitFor(
      async () => {
        const e = await f.webhooks.get(endpoint.id);
        return e.enabled ? null : e;
      },
      { what: 'the endpoint to be disabled' },
    );
    expect(disabled.disabledAt).not.toBeNull();
    // At the limit (3), or more when attempts in flight on the other pod failed in between.
    const [, failures] =
      /^(\d+) consecutive failed attempts; the last: HTTP 503: nope$/.exec(disabled.disabledReason ?? '') ??
      [];
    expect(Number(failures)).toBeGreaterThanOrEqual(3);
    expect((await f.webhooks.list()).find((e) => e.id === endpoint.id)?.enabled).toBe(false);
    const audit = await f.driver.fleet.audit.list({ limit: 10 });
    expect(audit.find((a) => a.action === 'webhooks.disabled')).toMatchObject({
      actor: 'webhooks',
      role: 'system',
      input: JSON.stringify({ id: endpoint.id }),
      error: disabled.disabledReason,
    });
    expect(await metricSum(f.pods, 'camfleet_webhook_disabled_total')).toBe(1);
    expect(await metricSum([f.first], 'camfleet_webhook_endpoints_disabled')).toBe(1);

    // While disabled, new events queue up for it without being due.
    await f.driver.fleet.rollouts.pause(rollout.id, 'ops');
    await f.driver.fleet.rollouts.resume(rollout.id, 'ops');
    const expected = await eventsFor(f.driver, endpoint, 'rollout');
    await waitFor(
      async () => {
        const log = await deliveriesOf(f, endpoint.id);
        return (
          log.length >= expected.length && log.every((d) => d.state === 'pending' && d.nextAttemptAt === null)
        );
      },
      { what: 'the backlog parked' },
    );
    expect(await metricSum([f.first], 'camfleet_webhook_backlog')).toBe(
      (await f.webhooks.get(endpoint.id)).backlog,
    );

    f.receiver.answer = () => ({ status: 200 });
    const enabled = await f.webhooks.enable(endpoint.id, 'ops');
    expect(enabled).toMatchObject({
      enabled: true,
      disabledAt: null,
      disabledReason: null,
      consecutiveFailures: 0,
    });
    await waitFor(() => expected.every((e) => f.receiver.delivered.has(e.id)), { what: 'the backlog sent' });
    expect(await metricSum([f.first], 'camfleet_webhook_endpoints_disabled')).toBe(0);
  });

  it('does not follow a redirect', async () => {
    const f = await fleetWith({}, 1);
    f.receiver.answer = (request) =>
      request.path === '/hook' ? { status: 302, location: f.receiver.url('/elsewhere') } : { status: 200 };
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['*'], description: '' },
      'ops',
    );
    await f.driver.rollout((await f.driver.publish()).id);
    // The rollout's events (created, attached) each make a delivery: the one attempted is looked at.
    const attempted = await waitFor(
      async () => (await deliveriesOf(f, endpoint.id)).find((d) => d.attempts >= 1 && d.lastStatus === 302),
      { what: 'an attempt answered with the redirect' },
    );
    expect(attempted.lastError).toBe(
      `HTTP 302: a redirect (to ${f.receiver.url('/elsewhere')}), not followed`,
    );
    expect(attempted.state).toBe('pending');
    expect(f.receiver.received.filter((r) => r.path !== '/hook')).toEqual([]);
    expect(await metricSum(f.pods, 'camfleet_webhook_sends_total', '{outcome="redirect"}')).toBeGreaterThan(
      0,
    );
  });

  it('test sends a signed ping now and answers what the receiver said', async () => {
    const f = await fleetWith({}, 1);
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['rollout.paused'], description: '' },
      'ops',
    );
    const result = await f.webhooks.test(endpoint.id, 'ops');
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      error: null,
      eventId: expect.stringMatching(/^ping_/),
    });
    const [ping] = f.receiver.received;
    expect(ping).toMatchObject({
      type: 'ping',
      event: 'ping',
      id: result.eventId,
      delivery: `${endpoint.id}/${result.eventId}`,
    });
    expect(verifies(endpoint.secret, ping ?? { timestamp: '', signature: '', body: '' })).toBe(true);
    f.receiver.answer = () => ({ status: 410 });
    expect(await f.webhooks.test(endpoint.id, 'ops')).toMatchObject({
      ok: false,
      status: 410,
      error: 'HTTP 410: nope',
    });
    // A ping is not queued and does not count against the endpoint.
    expect(await deliveriesOf(f, endpoint.id)).toEqual([]);
    expect((await f.webhooks.get(endpoint.id)).consecutiveFailures).toBe(0);
  });
});

describe('where webhooks may go (SSRF)', () => {
  it('refuses loopback, private and link-local targets, by address or by name, unless the pod allows them', async () => {
    const f = await fleetWith({ FLEET_WEBHOOK_ALLOW_PRIVATE: '0' }, 1);
    const admin = createAdminClient(f.first.url, ADMIN_TOKEN);
    cleanup.push(async () => admin.close());
    const create = (url: string) =>
      admin.client.webhooks.create.mutate({ url, events: ['*'] }).then(
        () => 'created',
        (error: unknown) =>
          error instanceof TRPCClientError ? `${error.data?.code}: ${error.message}` : String(error),
      );
    expect(await create(f.receiver.url())).toMatch(
      /^BAD_REQUEST: webhook URL refused: 127\.0\.0\.1: a loopback address/,
    );
    expect(await create(f.receiver.url('/hook', 'localhost'))).toMatch(
      /^BAD_REQUEST: webhook URL refused: localhost resolves to (127\.0\.0\.1|::1): a loopback address .*FLEET_WEBHOOK_ALLOW_PRIVATE/,
    );
    expect(await create('http://[::1]:9/hook')).toMatch(/::1: a loopback address/);
    expect(await create('http://10.1.2.3/hook')).toMatch(/10\.1\.2\.3: a private address/);
    expect(await create('http://169.254.169.254/latest/meta-data')).toMatch(/a link-local address/);
    expect(await create('http://[fd12::1]/hook')).toMatch(/an? unique-local address/);
    expect(await create('http://[::ffff:127.0.0.1]/hook')).toMatch(/a loopback address/);
    expect(await create('ftp://example.com/hook')).toMatch(/^BAD_REQUEST: .*only http and https URLs/);
    expect(await create('http://user:pw@example.com/hook')).toMatch(
      /^BAD_REQUEST: .*no credentials in the URL/,
    );
    expect(await admin.client.webhooks.list.query()).toEqual([]);
    const refused = await f.driver.fleet.audit.list({ limit: 20 });
    expect(refused.filter((a) => a.action === 'webhooks.create' && !a.ok)).toHaveLength(9);
  });

  it('allows the ranges of FLEET_WEBHOOK_ALLOW_CIDRS and nothing else', async () => {
    const f = await fleetWith(
      { FLEET_WEBHOOK_ALLOW_PRIVATE: '0', FLEET_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8,::1/128' },
      1,
    );
    const endpoint = await f.webhooks.create(
      { url: f.receiver.url(), events: ['rollout.*'], description: '' },
      'ops',
    );
    await expect(
      f.webhooks.create({ url: 'http://192.168.1.10/hook', events: ['*'], description: '' }, 'ops'),
    ).rejects.toThrow(/192\.168\.1\.10: a private address/);
    await f.driver.rollout((await f.driver.publish()).id);
    const expected = await eventsFor(f.driver, endpoint, 'rollout');
    await waitFor(() => expected.every((e) => f.receiver.delivered.has(e.id)), {
      what: 'delivery to loopback',
    });
  });
});
