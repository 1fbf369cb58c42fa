import { DELIVERY_STATES } from '@camfleet/contracts';
import { startTestRedis, type TestRedis } from '@camfleet/test-support';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeGone } from '../redis/scripts/index.js';
import { ScriptDriver } from '../testing/script-driver.js';

let server: TestRedis;
beforeAll(async () => {
  server = await startTestRedis();
});
afterAll(async () => {
  await server.destroy();
});

const DEVICES = ['d0', 'd1', 'd2'];
const device = fc.constantFrom(...DEVICES);
const rolloutIndex = fc.constantFrom(0, 1);
// Weighted so that interesting interleavings (offer → cancel → honour, install → restart) are common.
const command = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('claim' as const), dev: device }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('report' as const),
      dev: device,
      rollout: rolloutIndex,
      status: fc.constantFrom('downloading', 'installing', 'installed', 'succeeded', 'failed', 'canceled'),
      attemptDelta: fc.constantFrom(0, 0, 0, -1, 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('register' as const), dev: device, upgraded: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('honourCancel' as const), dev: device, rollout: rolloutIndex }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('disconnect' as const), dev: device }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('timeout' as const), dev: device }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('podDeath' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom('cancel' as const, 'pause' as const, 'resume' as const, 'abort' as const),
      rollout: rolloutIndex,
    }),
  },
);

let run = 0;

/**
 * Any sequence of claims, reports (current, stale or future attempts), restarts with the new or
 * old version, disconnects, timeouts, pod deaths, pauses and cancels leaves every rollout's
 * counters equal to the states of its deliveries — per state and per wave — and never negative.
 */
describe('delivery state machine (property)', () => {
  it('keeps counters equal to the sum of per-device states', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 5, maxLength: 60, size: 'large' }),
        async (commands) => {
          const pod = new ScriptDriver(server.url, `sm${++run}`);
          try {
            for (const dev of DEVICES) await pod.register(dev, { firmware: '1' });
            const rollouts = [
              await pod.rollout((await pod.publish('2')).id, {
                maxAttempts: 2,
                retryBackoff: { baseMs: 10, maxMs: 10 },
              }),
              await pod.rollout((await pod.publish('3')).id, { waves: [50, 100] }),
            ];
            for (const c of commands) {
              switch (c.op) {
                case 'claim':
                  await pod.claim(c.dev);
                  break;
                case 'report': {
                  const rid = rollouts[c.rollout]!.id;
                  const attempt = Number((await pod.delivery(rid, c.dev)).attempt ?? 0) + c.attemptDelta;
                  if (attempt >= 1) await pod.report(c.dev, rid, attempt, c.status, 'boom');
                  break;
                }
                case 'honourCancel': {
                  const rid = rollouts[c.rollout]!.id;
                  const attempt = Number((await pod.delivery(rid, c.dev)).attempt ?? 0);
                  if (attempt >= 1) await pod.report(c.dev, rid, attempt, 'canceled');
                  break;
                }
                case 'register':
                  await pod.register(c.dev, { firmware: c.upgraded ? '2' : '1' });
                  break;
                case 'disconnect':
                  await pod.disconnect(c.dev);
                  break;
                case 'timeout': {
                  // The deadline passes (time is the only thing poked); the real sweep acts on it.
                  const bucket = pod.keys.bucketOfDevice(c.dev);
                  const active = await pod.redis.hget(bucket.key('device', c.dev), 'active');
                  if (active) await pod.redis.hset(bucket.key('delivery', active, c.dev), 'deadline', 1);
                  await pod.redis.zadd(bucket.due, 1, c.dev);
                  await pod.sweep(c.dev);
                  break;
                }
                case 'podDeath':
                  await pod.scripts.runInEveryBucket(nodeGone, { instance: 'pod-a', graceMs: 3000 });
                  break;
                default: {
                  const rid = rollouts[c.rollout]!.id;
                  const act = {
                    cancel: () => pod.fleet.rollouts.cancel(rid, 'p'),
                    pause: () => pod.fleet.rollouts.pause(rid, 'p'),
                    resume: () => pod.fleet.rollouts.resume(rid, 'p'),
                    abort: () => pod.fleet.rollouts.transition(rid, 'abort', 'p', 'abort'),
                  };
                  await act[c.op]().catch(() => undefined);
                }
              }
            }
            for (const rollout of rollouts) {
              const status = await pod.fleet.rollouts.get(rollout.id);
              const actual = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<string, number>;
              const perWave = status.waveCounts.map(() => ({ ...actual }));
              for (const dev of DEVICES) {
                const d = await pod.delivery(rollout.id, dev);
                if (!d.state) continue;
                actual[d.state] = (actual[d.state] ?? 0) + 1;
                const wave = perWave[Number(d.wave)]!;
                wave[d.state] = (wave[d.state] ?? 0) + 1;
              }
              expect(status.counts).toEqual(actual);
              expect(status.waveCounts).toEqual(perWave);
            }
          } finally {
            await pod.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
