import {
  digestEverywhere,
  RedisClusterServer,
  redisInfo,
  type SlotMove,
  waitFor,
} from '@camfleet/test-support';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptDriver } from '../testing/script-driver.js';
import { bucketOf } from './keys.js';

/**
 * A bucket script while its slot moves to another master (what `redis-cli --cluster reshard` does):
 * some of the bucket's keys are on each node. Redis routes a script by its declared KEYS only, so
 * without slot_guard.lua a script sent to the new node (ASK) reads the keys still on the old one as
 * missing, and one run on the old node fails on the first key that already left. With it, the
 * script is refused (MOVING) until the slot has moved, and then runs once, on the whole bucket.
 */
let cluster: RedisClusterServer;
beforeAll(async () => {
  cluster = await RedisClusterServer.start({ masters: 3, replicasPerMaster: 0, enableDebug: true });
});
afterAll(async () => {
  await cluster?.destroy();
});

/** Device ids that share one bucket. */
function idsInOneBucket(count: number, prefix: string): string[] {
  const bucket = bucketOf(`${prefix}-0`);
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++)
    if (bucketOf(`${prefix}-${i}`) === bucket) ids.push(`${prefix}-${i}`);
  return ids;
}

/** Which of the slot's keys leave first: the ones the script declares, or the device's own. */
const CASES = [
  { moved: 'the declared due set (the script is sent on to the new node)', first: 'due' },
  { moved: "the reporting device's keys (the script runs on the old node)", first: 'device' },
] as const;

describe.each(CASES)('a report while its bucket slot moves, $moved first', ({ first }) => {
  it('is refused until the slot has moved, changes nothing meanwhile, then applies once', async () => {
    const prefix = `sg-${first}`;
    const driver = new ScriptDriver(cluster.url, prefix);
    const [reporter = '', ...others] = idsInOneBucket(6, prefix);
    let move: SlotMove | null = null;
    try {
      for (const id of [reporter, ...others]) await driver.register(id);
      const rollout = await driver.rollout((await driver.publish('2.0.0')).id);
      const offer = await driver.claim(reporter);
      expect(offer?.rolloutId).toBe(rollout.id);
      const bucket = driver.keys.bucketOfDevice(reporter);
      const slot = calculateSlot(bucket.due);
      const owner = (await cluster.ownerOf(slot)).port;
      const newOwner = (await cluster.masters()).find((master) => master.port !== owner)?.port ?? 0;
      move = await cluster.beginSlotMove(slot, newOwner);
      const ofReporter = (key: string) => key.includes(reporter);
      const keys = await move.keysLeft();
      expect(keys).toContain(bucket.due);
      await move.migrate(
        first === 'due' ? keys.filter((key) => !ofReporter(key)) : keys.filter((key) => ofReporter(key)),
      );
      const inBucket = (key: string) => key.startsWith(bucket.prefix);
      const before = await digestEverywhere(driver.redis, inBucket);

      let settled = false;
      const report = driver.report(reporter, rollout.id, offer?.attempt ?? 0, 'downloading').finally(() => {
        settled = true;
      });
      // Refused while the slot is split: Redis keeps counting the script's calls, nothing changes.
      const ports = [move.fromPort, move.toPort];
      const callsBefore = await scriptCalls(ports);
      await waitFor(async () => settled || (await scriptCalls(ports)) >= callsBefore + 3, {
        timeoutMs: 30_000,
        what: 'the report to be tried three times',
      });
      expect(settled).toBe(false);
      expect(await digestEverywhere(driver.redis, inBucket)).toBe(before);

      await move.finish();
      move = null;
      const reply = await report;
      expect(reply).toMatchObject({ ok: true, state: 'downloading', duplicate: false });
      const delivery = await driver.delivery(rollout.id, reporter);
      expect(delivery.state).toBe('downloading');
      const view = await driver.fleet.rollouts.view(rollout.id);
      expect(view.status.counts).toMatchObject({ offered: others.length, downloading: 1 });
    } finally {
      await move?.finish();
      await driver.close();
    }
  });
});

/** Script calls the nodes have run (refused ones too), from INFO commandstats. */
async function scriptCalls(ports: readonly number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const stats = await redisInfo(port, 'commandstats');
    for (const name of ['cmdstat_evalsha', 'cmdstat_eval'])
      total += Number(/calls=(\d+)/.exec(stats.get(name) ?? '')?.[1] ?? 0);
  }
  return total;
}
