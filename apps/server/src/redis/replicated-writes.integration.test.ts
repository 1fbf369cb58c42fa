import { FleetError } from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import {
  connectTestRedis,
  monitorRedis,
  RedisClusterServer,
  RedisServer,
  waitFor,
} from '@camfleet/test-support';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReplicatedWrites } from './replicated-writes.js';
import { defineScripts } from './script.js';
import { ALL_SCRIPTS } from './scripts/index.js';

let cluster: RedisClusterServer;
const clients: Array<RedisClient | Redis> = [];
beforeAll(async () => {
  // The default node timeout (5 s), not 1 s: on a loaded machine a 1 s stall of a master is a
  // failover behind the test's back, which leaves its slots without a replica for a while.
  cluster = await RedisClusterServer.start({ masters: 3, replicasPerMaster: 1 });
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await cluster.destroy();
});

function client(): RedisClient {
  const redis = connectTestRedis(cluster.url);
  defineScripts(redis, ALL_SCRIPTS);
  clients.push(redis);
  return redis;
}

/** The master serving a key's slot, and its replica (if it has one). */
async function nodesOf(key: string): Promise<{ master: number; replica: number | null }> {
  await cluster.awaitHealthy();
  const slot = calculateSlot(key);
  const owner = (await cluster.masters()).find((m) =>
    m.slots.split(' ').some((range) => {
      const [from = -1, to = from] = range.split('-').map(Number);
      return slot >= from && slot <= to;
    }),
  );
  if (!owner) throw new Error(`no master serves slot ${slot}`);
  const replica = (await cluster.replicas()).find((r) => r.masterPort === owner.port);
  return { master: owner.port, replica: replica?.port ?? null };
}

describe('ReplicatedWrites (a real cluster with a replica per master)', () => {
  it('answers a write only once the replica holds it', async () => {
    const short = vi.fn();
    const writes = new ReplicatedWrites(client(), { replicas: 1, timeoutMs: 5_000 }, short);
    const keys = ['rw:{b1}:nodes', 'rw:{b2}:nodes', 'rw:{b3}:nodes', 'rw:{b4}:nodes'];
    // What each master is sent: every batch of writes must end in a WAIT on the same connection.
    const sent = new Map<number, string[]>();
    const monitors: { stop: () => Promise<void> }[] = [];
    for (const { port } of await cluster.masters()) {
      sent.set(port, []);
      monitors.push(
        await monitorRedis(port, ({ source, args }) => {
          if (source !== 'lua') sent.get(port)?.push((args[0] ?? '').toLowerCase());
        }),
      );
    }
    await Promise.all(
      keys.map((key) => writes.run('node_heartbeat', [key, `${key}:devices`, 'pod-a', 60_000, 0])),
    );
    for (const key of keys) {
      const { replica } = await nodesOf(key);
      if (replica === null) throw new Error('every master has a replica here');
      const direct = new Redis({ port: replica, protocol: 2 });
      clients.push(direct);
      await direct.readonly();
      // Read at once from the replica: no waiting, the acknowledgement promised it is there.
      expect(await direct.zscore(key, 'pod-a')).not.toBeNull();
    }
    expect(short).not.toHaveBeenCalled();
    for (const monitor of monitors) await monitor.stop();
    for (const key of keys) {
      const commands = sent.get((await nodesOf(key)).master) ?? [];
      const wrote = commands.findIndex((c) => c === 'evalsha' || c === 'eval');
      expect(wrote).toBeGreaterThanOrEqual(0);
      expect(commands.indexOf('wait', wrote)).toBeGreaterThan(wrote);
    }
  });

  it('without a replica: every write is refused as UNAVAILABLE (to be repeated), in a few batches, and the pod’s other connection is never blocked', async () => {
    const key = 'rw:{b9}:nodes';
    const { master } = await nodesOf(key);
    await cluster.killMaster(master); // its replica takes over, with no replica of its own
    const short = vi.fn();
    const durable = client();
    const other = client();
    await durable.ping();
    await other.ping();
    // A WAIT that only the test ends: with no replica it would block for a minute (the test's
    // timeout), so no write can be answered before the test lets it.
    const writes = new ReplicatedWrites(durable, { replicas: 1, timeoutMs: 60_000 }, short);
    let answered = 0;
    let refused = 0;
    let done = false;
    const written = Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        writes.run('node_heartbeat', [key, `${key}:devices`, `pod-${i}`, 60_000, 0]).then(
          () => answered++,
          (error: unknown) => {
            answered++;
            if (error instanceof FleetError && error.code === 'UNAVAILABLE') refused++;
          },
        ),
      ),
    ).then(() => {
      done = true;
    });
    // The master's clients blocked in WAIT (by their CLIENT LIST line).
    const node = new Redis({ port: (await nodesOf(key)).master, protocol: 2 });
    clients.push(node);
    const waiting = async () =>
      String(await node.client('LIST'))
        .split('\n')
        .filter((line) => / cmd=wait /.test(line) && / flags=\S*b/.test(line))
        .map((line) => line.match(/^id=(\d+)/)?.[1] ?? '');
    await waitFor(async () => (await waiting()).length > 0, {
      what: 'the writes’ WAIT to block',
      timeoutMs: 30_000,
    });
    // While it blocks, the other connection is served (the writes themselves ran before the WAIT),
    // and not one write has been answered.
    expect(await other.zcard(key)).toBeGreaterThan(0);
    expect(answered).toBe(0);
    // End the WAIT as its timeout would (CLIENT UNBLOCK answers it with the replicas that
    // confirmed: 0), batch after batch, until every write is answered.
    await waitFor(
      async () => {
        for (const id of await waiting()) await node.client('UNBLOCK', id);
        return done;
      },
      { what: 'every write to be answered', timeoutMs: 30_000 },
    );
    await written;
    expect(answered).toBe(50);
    // Not confirmed, so not promised: each caller is told to repeat it (this master took them).
    expect(refused).toBe(50);
    expect(await other.zcard(key)).toBe(50);
    // One batch for the turn's writes (two if the slot map was refreshed in between), not 50 waits.
    expect(short.mock.calls.length).toBeGreaterThan(0);
    expect(short.mock.calls.length).toBeLessThanOrEqual(2);
    expect(short.mock.calls.flatMap(([scripts]) => scripts)).toHaveLength(50);
  });
});

describe('ReplicatedWrites on a master without replicas for a while', () => {
  it('says it is stuck once writes stayed unconfirmed that long, and not before', async () => {
    const lonely = await RedisServer.start();
    const redis = connectTestRedis(lonely.url);
    clients.push(redis);
    defineScripts(redis, ALL_SCRIPTS);
    const shorts: number[] = [];
    const stuckAt: number[] = [];
    const writes = new ReplicatedWrites(
      redis,
      { replicas: 1, timeoutMs: 50 },
      () => shorts.push(Date.now()),
      { afterMs: 400, onStuck: () => stuckAt.push(Date.now()) },
    );
    try {
      const key = 'rw:{b3}:nodes';
      await waitFor(
        async () => {
          await writes
            .run('node_heartbeat', [key, `${key}:devices`, 'pod-x', 60_000, 0])
            .catch(() => undefined);
          return stuckAt.length > 0;
        },
        { what: 'the writes to be declared stuck', timeoutMs: 30_000, intervalMs: 10 },
      );
      expect((stuckAt[0] ?? 0) - (shorts[0] ?? 0)).toBeGreaterThanOrEqual(400);
    } finally {
      await lonely.destroy();
    }
  });
});
