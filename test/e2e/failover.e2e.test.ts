import { RedisClusterServer, RedisSentinelServer, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectCountsAddUp, TestFleet } from './harness.js';

// Real processes, a real failover (seconds of Redis's own timeouts), on a 2-core machine.
vi.setConfig({ testTimeout: 240_000 });

let fleet: TestFleet | null = null;
afterEach(async () => {
  await fleet?.down();
  fleet = null;
});

const DEVICES = 150;

/**
 * A rollout whose installs are all held mid-install while the Redis master (or one of them) is killed.
 * Measures how long until the pods are served by the new master again (a `fleet.stats` read touches
 * every bucket, so it answers only when every slot is) and until the rollout is complete.
 */
async function rolloutThroughFailover(
  redis: TestRedis,
  killMaster: () => Promise<{ killedPort: number; promotedPort: number; failoverMs: number }>,
) {
  // WAIT for one replica after each report: an acknowledged outcome survives the failover. Two
  // replicas (as the README asks with WAIT): the new master still has one, so outcomes are confirmed
  // again once the other replica follows it (with one, they would be refused until the old master
  // came back as a replica).
  fleet = await TestFleet.up(2, { redis, podEnv: { FLEET_REDIS_WAIT_REPLICAS: '1' } });
  // Installs are held at `installing` until the master is dead: its failover lands mid-install, and
  // the outcomes (1.5 s later) are reported while the pods are still finding the new master.
  const hold = fleet.installHold();
  const sim = fleet.sim(['--devices', String(DEVICES), '--apply-ms', '1500', ...hold.args]);
  await fleet.waitOnline(DEVICES);
  const rolloutId = await fleet.rollOut(['--ack-timeout', '60s']);
  const current = fleet;
  await waitFor(async () => (await current.status(rolloutId)).counts.installing === DEVICES, {
    timeoutMs: 90_000,
    what: `${DEVICES} deliveries installing`,
  });
  const killedAt = Date.now();
  const failover = await killMaster();
  await hold.release();
  await waitFor(() => current.admin.client.fleet.stats.query().then(() => true), {
    timeoutMs: 60_000,
    what: 'a pod to read every bucket again',
  });
  const servedMs = Date.now() - killedAt;
  const final = await current.waitSettled(rolloutId, { timeoutMs: 180_000 });
  const settledMs = Date.now() - killedAt;
  const summary = await sim.finish();
  return { failover, servedMs, settledMs, final, summary };
}

describe('Redis failover mid-rollout (pods and cameras as real processes)', () => {
  it('Cluster: a master with two replicas is killed; a replica takes over, pods follow, the rollout completes', async () => {
    const redis = await RedisClusterServer.start({
      masters: 3,
      replicasPerMaster: 2,
      appendOnly: true,
      nodeTimeoutMs: 1_000,
    });
    const result = await rolloutThroughFailover(redis, () => redis.killMaster());
    console.info(
      `[failover] cluster: master :${result.failover.killedPort} killed, replica :${result.failover.promotedPort} promoted in ${result.failover.failoverMs} ms; ` +
        `pods served every slot again ${result.servedMs} ms after the kill; all ${DEVICES} succeeded ${result.settledMs} ms after it; ` +
        `offers repeated ${result.summary.duplicateOffers}, reports refused ${result.summary.reportsRejected}, installs repeated ${result.summary.installsRepeated}`,
    );
    expect(result.final.counts.succeeded).toBe(DEVICES);
    expectCountsAddUp(result.final);
    expect(result.summary.installsRepeated).toBe(0);
    expect(result.summary.installsDone).toBe(DEVICES);
  });

  it('Sentinel: the master is killed; Sentinel promotes a replica, pods follow, the rollout completes', async () => {
    const redis = await RedisSentinelServer.start({ appendOnly: true, replicas: 2, downAfterMs: 1_000 });
    const result = await rolloutThroughFailover(redis, () => redis.killMaster());
    console.info(
      `[failover] sentinel: master :${result.failover.killedPort} killed, :${result.failover.promotedPort} promoted in ${result.failover.failoverMs} ms; ` +
        `pods served again ${result.servedMs} ms after the kill; all ${DEVICES} succeeded ${result.settledMs} ms after it; ` +
        `offers repeated ${result.summary.duplicateOffers}, reports refused ${result.summary.reportsRejected}, installs repeated ${result.summary.installsRepeated}`,
    );
    expect(result.final.counts.succeeded).toBe(DEVICES);
    expectCountsAddUp(result.final);
    expect(result.summary.installsRepeated).toBe(0);
    expect(result.summary.installsDone).toBe(DEVICES);
  });
});
