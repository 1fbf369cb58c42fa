import type { CreatedWebhook } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import {
  type EnqueueEntry,
  webhookClaim,
  webhookDisable,
  webhookDone,
  webhookEnqueue,
  webhookPumpLease,
  webhookRetry,
} from '../redis/scripts/index.js';
import type { ScriptDriver } from '../testing/script-driver.js';
import { scriptDriverPerTest } from '../testing/script-driver-suite.js';
import { WebhookEndpoints } from './endpoints.js';
import { WebhookMetrics } from './metrics.js';
import { WebhookPump } from './pump.js';
import { WEBHOOK_DEFAULTS, type WebhookSettings } from './settings.js';

/*
 * The webhook transitions one by one against a real Redis (each driver a pod): fan-out is
 * idempotent, claims are leased, outcomes are compare-and-set, backlogs are bounded.
 */
const { pod } = scriptDriverPerTest('whs');

const SETTINGS: WebhookSettings = { ...WEBHOOK_DEFAULTS, allowPrivate: true, maxBacklog: 1000 };
const RETRY = { baseMs: 1_000, maxMs: 8_000, maxAttempts: 3, maxAgeMs: 3_600_000 };

function endpoints(driver: ScriptDriver, settings: WebhookSettings = SETTINGS): WebhookEndpoints {
  return new WebhookEndpoints(driver.fleet.deps, settings);
}

async function create(driver: ScriptDriver, events: string[] = ['*'], settings?: WebhookSettings) {
  return endpoints(driver, settings).create(
    { url: 'http://127.0.0.1:9/hook', events, description: '' },
    'ops',
  );
}

/** A stream entry as the pump would pass it: entry `n` of stream `g`, at `at` ms. */
function entry(n: number, type = 'rollout.paused', at = Date.now() + 60_000): EnqueueEntry {
  return { streamId: `${at}-${n}`, eventId: `${at}-${n}/g`, type, at, body: `{"n":${n}}` };
}

function enqueue(driver: ScriptDriver, entries: EnqueueEntry[], maxBacklog = 1000) {
  return driver.scripts.run(webhookEnqueue, { tag: 'g', maxBacklog, logKeep: 500, entries });
}

function claim(driver: ScriptDriver, limit = 10, leaseMs = 60_000) {
  return driver.scripts.run(webhookClaim, { limit, leaseMs, instance: driver.instance });
}

const deliveries = (driver: ScriptDriver, endpoint: CreatedWebhook) =>
  endpoints(driver).deliveries({ id: endpoint.id, limit: 1000 });

describe('fan-out (webhook_enqueue)', () => {
  it('makes one delivery per (endpoint, event), however often a batch is sent again', async () => {
    const driver = pod();
    const all = await create(driver);
    const batch = [entry(1), entry(2)];
    expect((await enqueue(driver, batch)).made).toBe(2);
    // A resend (the reply was lost) and a pass that read the same entries again: the cursor is past them.
    expect((await enqueue(driver, batch)).made).toBe(0);
    // Even with the cursor gone, an (endpoint, event) pair is made once.
    await driver.redis.hdel(driver.keys.webhook('cursors'), 'g');
    expect((await enqueue(driver, batch)).made).toBe(0);
    expect((await deliveries(driver, all)).map((d) => d.eventId).sort()).toEqual(
      batch.map((e) => e.eventId).sort(),
    );
    expect(await driver.redis.hget(driver.keys.webhook('cursors'), 'g')).toBe(batch[1]?.streamId);
  });

  it('matches patterns and leaves out events from before an endpoint existed', async () => {
    const driver = pod();
    const rollouts = await create(driver, ['rollout.*']);
    const failed = await create(driver, ['delivery.failed']);
    const old = entry(1, 'rollout.created', rollouts.createdAt - 5_000);
    const made = await enqueue(driver, [
      old,
      entry(2, 'rollout.created'),
      entry(3, 'delivery.failed'),
      entry(4, 'delivery.succeeded'),
    ]);
    expect(made.made).toBe(2);
    expect((await deliveries(driver, rollouts)).map((d) => d.type)).toEqual(['rollout.created']);
    expect((await deliveries(driver, failed)).map((d) => d.type)).toEqual(['delivery.failed']);
  });

  it('keeps a backlog bounded: the oldest deliveries are dropped, counted and logged', async () => {
    const driver = pod();
    const endpoint = await create(driver);
    const at = Date.now() + 60_000;
    const reply = await enqueue(
      driver,
      [1, 2, 3, 4].map((n) => entry(n, 'rollout.paused', at + n)),
      2,
    );
    expect(reply.dropped).toEqual([{ endpointId: endpoint.id, count: 2 }]);
    const shown = await endpoints(driver).get(endpoint.id);
    expect(shown).toMatchObject({ backlog: 2, dropped: 2, backlogLimit: 1000 });
    expect(shown.droppedAt).not.toBeNull();
    const log = await deliveries(driver, endpoint);
    const dropped = log.filter((d) => d.state === 'dropped');
    expect(dropped.map((d) => d.eventId).sort()).toEqual([`${at + 1}-1/g`, `${at + 2}-2/g`]);
    expect(
      dropped.every((d) => d.lastError === 'dropped: the backlog held 2' && d.nextAttemptAt === null),
    ).toBe(true);
    // What was dropped is never claimed.
    const claimed = await claim(driver);
    expect(claimed.claimed.map((c) => c.id.split('/')[1]).sort()).toEqual([`${at + 3}-3`, `${at + 4}-4`]);
  });
});

describe('the pump (fan-out from the event streams)', () => {
  it('loses nothing and duplicates nothing when a pass dies between reading and enqueueing', async () => {
    const driver = pod();
    const endpoint = await create(driver);
    await driver.rollout((await driver.publish()).id);
    await driver.fleet.rollouts.pause((await driver.rollout((await driver.publish()).id)).id, 'ops');
    const metrics = new WebhookMetrics(driver.fleet.deps.metrics.registry, async () => ({
      backlog: 0,
      disabled: 0,
    }));
    // A pod that reads the streams and dies before its enqueue reaches Redis.
    const dying = new WebhookPump(
      {
        ...driver.fleet.deps,
        scripts: new Proxy(driver.scripts, {
          get: (target, key) =>
            key === 'run'
              ? (script: { name: string }, input: unknown) => {
                  if (script.name === 'webhook_enqueue') throw new Error('killed');
                  return target.run(script as never, input as never);
                }
              : Reflect.get(target, key),
        }),
        instance: 'dying',
      },
      SETTINGS,
      50,
      metrics,
    );
    await expect(dying.pass()).rejects.toThrow('killed');
    expect(await deliveries(driver, endpoint)).toEqual([]);
    // Another pod takes over once the dying pod's lease has run out, and then passes twice.
    const pump = new WebhookPump(driver.fleet.deps, SETTINGS, 5_000, metrics);
    await waitFor(() => pump.pass().then(async () => (await deliveries(driver, endpoint)).length > 0), {
      what: 'the other pod to take the pump over',
    });
    await pump.pass();
    const events = (await driver.fleet.events.list({ limit: 100 })).filter((e) => e.at >= endpoint.createdAt);
    const log = await deliveries(driver, endpoint);
    expect(log.map((d) => d.eventId).sort()).toEqual(events.map((e) => e.id).sort());
    expect(log.every((d) => d.state === 'pending' && d.attempts === 0)).toBe(true);
  });

  it('is held by one pod at a time, and taken over when its lease runs out', async () => {
    const driver = pod();
    const lease = (instance: string, leaseMs = 200) =>
      driver.scripts.run(webhookPumpLease, { instance, leaseMs });
    expect(await lease('a')).toBe(true);
    expect(await lease('b')).toBe(false);
    expect(await lease('a')).toBe(true);
    await waitFor(() => lease('b'), { what: 'b to take the lease over' });
    expect(await lease('a')).toBe(false);
  });
});

describe('claims and outcomes', () => {
  it('leases a claim: nobody else takes it until the lease ends; an outcome of an old claim is ignored', async () => {
    const driver = pod();
    await create(driver);
    await enqueue(driver, [entry(1)]);
    const first = await claim(driver, 10, 150);
    expect(first.claimed).toHaveLength(1);
    const [mine] = first.claimed;
    expect(mine).toMatchObject({ lease: '1', attempt: 1, type: 'rollout.paused', body: '{"n":1}' });
    expect(mine?.secret).toMatch(/^whsec_/);
    expect((await claim(driver)).claimed).toEqual([]);
    // The claimer is killed: its lease runs out and another pod claims the same delivery.
    const again = await waitFor(async () => (await claim(driver)).claimed[0], {
      what: 'the lease to run out',
    });
    expect(again).toMatchObject({ id: mine?.id, lease: '2', attempt: 2, body: mine?.body });
    const done = (lease: string) =>
      driver.scripts.run(webhookDone, { id: again.id, lease, status: 200, logKeep: 500 });
    expect(await done('1')).toBe(false);
    expect(await done('2')).toBe(true);
    expect(await done('2')).toBe(false);
  });

  it('backs off exponentially with jitter, then gives up after the most attempts', async () => {
    const driver = pod();
    const endpoint = await create(driver);
    await enqueue(driver, [entry(1)]);
    const retry = async (jitter: number) => {
      const [c] = (await claim(driver)).claimed;
      if (!c) throw new Error('nothing to claim');
      const now = (await driver.redis.time()).map(Number);
      const reply = await driver.scripts.run(webhookRetry, {
        id: c.id,
        lease: c.lease,
        status: 500,
        error: 'HTTP 500',
        policy: RETRY,
        jitter,
        logKeep: 500,
      });
      // Due again at once, for the next attempt of the test.
      if (reply.outcome === 'retry') await driver.redis.zadd(driver.keys.webhook('due'), 0, c.id);
      return { ...reply, delay: reply.nextAt - ((now[0] ?? 0) * 1000 + Math.floor((now[1] ?? 0) / 1000)) };
    };
    const first = await retry(0);
    expect(first.outcome).toBe('retry');
    expect(first.delay).toBeGreaterThanOrEqual(500);
    expect(first.delay).toBeLessThan(600);
    const second = await retry(0.999);
    expect(second.delay).toBeGreaterThanOrEqual(1_999);
    expect(second.delay).toBeLessThan(2_100);
    expect(await retry(0)).toMatchObject({ outcome: 'failed', failures: 3 });
    const [log] = await deliveries(driver, endpoint);
    expect(log).toMatchObject({
      state: 'failed',
      attempts: 3,
      lastStatus: 500,
      lastError: 'HTTP 500',
      nextAttemptAt: null,
    });
    expect(await endpoints(driver).get(endpoint.id)).toMatchObject({ givenUp: 1, consecutiveFailures: 3 });
  });

  it('disables at the failure limit (a success in between resets the count), parks the backlog, enable resumes it', async () => {
    const driver = pod();
    const endpoint = await create(driver);
    await enqueue(driver, [entry(1), entry(2)]);
    const fail = async () => {
      const [c] = (await claim(driver, 1)).claimed;
      if (!c) throw new Error('nothing to claim');
      await driver.scripts.run(webhookRetry, {
        id: c.id,
        lease: c.lease,
        status: null,
        error: 'ECONNREFUSED',
        policy: { ...RETRY, maxAttempts: 100, baseMs: 10, maxMs: 10 },
        jitter: 0,
        logKeep: 500,
      });
      await driver.redis.zadd(driver.keys.webhook('due'), 0, c.id);
    };
    const disable = () =>
      driver.scripts.run(webhookDisable, { id: endpoint.id, failureLimit: 2, auditMax: 100 });
    await fail();
    expect(await disable()).toBeNull();
    await fail();
    expect(await disable()).toBe('2 consecutive failed attempts; the last: ECONNREFUSED');
    expect(await disable()).toBeNull();
    expect((await claim(driver)).claimed).toEqual([]);
    expect((await deliveries(driver, endpoint)).every((d) => d.nextAttemptAt === null)).toBe(true);
    // New events still queue while it is disabled, none of them due.
    await enqueue(driver, [entry(3)]);
    expect(await driver.redis.zcard(driver.keys.webhook('due'))).toBe(0);
    await endpoints(driver).enable(endpoint.id, 'ops');
    expect((await claim(driver)).claimed).toHaveLength(3);
  });

  it('delete leaves nothing of an endpoint behind', async () => {
    const driver = pod();
    const endpoint = await create(driver);
    const batch = [entry(1), entry(2)];
    await enqueue(driver, batch);
    const [c] = (await claim(driver, 1)).claimed;
    await driver.scripts.run(webhookDone, {
      id: c?.id ?? '',
      lease: c?.lease ?? '',
      status: 200,
      logKeep: 500,
    });
    const deleted = await endpoints(driver).delete(endpoint.id, 'ops');
    expect(deleted).toMatchObject({ id: endpoint.id, backlog: 1, delivered: 1 });
    expect(JSON.stringify(deleted)).not.toContain('whsec_');
    const k = driver.keys;
    const gone = [
      k.webhook('endpoint', endpoint.id),
      k.webhook('pending', endpoint.id),
      k.webhook('log', endpoint.id),
    ];
    const records = batch.map((e) => k.webhook('delivery', endpoint.id, e.eventId));
    expect(await driver.redis.exists(...gone, ...records)).toBe(0);
    expect(await driver.redis.zcard(k.webhook('due'))).toBe(0);
    expect(await driver.redis.zcard(k.webhook('endpoints'))).toBe(0);
    await expect(endpoints(driver).get(endpoint.id)).rejects.toThrow(/no webhook/);
    expect((await claim(driver)).claimed).toEqual([]);
  });
});
