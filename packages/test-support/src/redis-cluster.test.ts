import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfo, redisCli } from './redis-cli.js';
import { RedisClusterServer } from './redis-cluster.js';

const MINUTE = 60_000;

/** redis-cli -c through `port`: follows MOVED, and the replies without its "-> Redirected" notes. */
async function viaCluster(port: number, commands: string[], timeoutMs?: number): Promise<string[]> {
  const output = await redisCli(port, [], {
    cluster: true,
    input: `${commands.join('\n')}\n`,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  return output.split('\n').filter((line) => !line.startsWith('-> Redirected'));
}

/** The master that owns `key`'s slot now. */
async function ownerOf(cluster: RedisClusterServer, key: string): Promise<number> {
  const masters = await cluster.masters();
  const slot = Number(await redisCli(masters[0]!.port, ['CLUSTER', 'KEYSLOT', key]));
  const owner = masters.find(({ slots }) =>
    slots.split(' ').some((range) => {
      const [from = -1, to = from] = range.split('-').map(Number);
      return slot >= from && slot <= to;
    }),
  );
  if (!owner) throw new Error(`no master owns slot ${slot}`);
  return owner.port;
}

describe('RedisClusterServer', () => {
  let cluster: RedisClusterServer;

  beforeAll(async () => {
    const startedAt = performance.now();
    // The default node timeout (5 s): with 1 s a loaded machine fails healthy masters over, and the
    // topology the first case checks is no longer the one created.
    cluster = await RedisClusterServer.start({ appendOnly: true });
    console.log(`cluster of 3 masters + 3 replicas up in ${Math.round(performance.now() - startedAt)} ms`);
  }, 2 * MINUTE);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('serves all 16384 slots from three masters with a replica each, ok on every node', async () => {
    expect(cluster.mode).toBe('cluster');
    expect(cluster.url).toBe(`redis+cluster://${cluster.ports.map((port) => `127.0.0.1:${port}`).join(',')}`);
    expect(cluster.ports).toHaveLength(6);
    const masters = await cluster.masters();
    expect(masters.map(({ slots }) => slots)).toEqual(['0-5460', '5461-10922', '10923-16383']);
    const replicas = await cluster.replicas();
    expect(replicas.map(({ masterPort }) => masterPort).sort()).toEqual(
      masters.map(({ port }) => port).sort(),
    );
    for (const port of cluster.ports) {
      const info = parseInfo(await redisCli(port, ['CLUSTER', 'INFO']));
      expect(info.get('cluster_state')).toBe('ok');
      expect(info.get('cluster_slots_ok')).toBe('16384');
    }
  });

  it(
    'keeps a replicated key through a master failover, and takes the old master back as a replica',
    async () => {
      const key = 'failover:key';
      const owner = await ownerOf(cluster, key);
      // WAIT 1: the write is on the replica before the master dies, so the failover cannot lose it.
      // No timeout of its own (0: until the replica has it); the test's bounds the wait.
      expect(await viaCluster(cluster.ports[0]!, [`SET ${key} survived`, 'WAIT 1 0'], 2 * MINUTE)).toEqual([
        'OK',
        '1',
      ]);

      const failover = await cluster.killMaster(owner);
      console.log(`cluster failover: ${JSON.stringify(failover)}`);
      expect(failover.killedPort).toBe(owner);
      expect(failover.promotedPort).not.toBe(owner);
      expect(await ownerOf(cluster, key)).toBe(failover.promotedPort);
      expect(await viaCluster(failover.promotedPort, [`GET ${key}`])).toEqual(['survived']);
      for (const port of cluster.ports.filter((candidate) => candidate !== owner)) {
        expect(parseInfo(await redisCli(port, ['CLUSTER', 'INFO'])).get('cluster_state')).toBe('ok');
      }

      await cluster.reviveNode(owner);
      expect(await cluster.replicas()).toContainEqual({ port: owner, masterPort: failover.promotedPort });
      expect(await viaCluster(owner, [`GET ${key}`])).toEqual(['survived']);
    },
    2 * MINUTE,
  );

  it(
    'keeps its data across a restart (append-only file), with the same nodes',
    async () => {
      const ports = cluster.ports;
      expect(await viaCluster(ports[1]!, ['SET restart:a 1', 'SET restart:b 2', 'SET restart:c 3'])).toEqual([
        'OK',
        'OK',
        'OK',
      ]);
      const restartedAt = performance.now();
      await cluster.restart();
      console.log(`cluster restart (SIGTERM) took ${Math.round(performance.now() - restartedAt)} ms`);
      expect(cluster.ports).toEqual(ports);
      expect(await viaCluster(ports[2]!, ['GET restart:a', 'GET restart:b', 'GET restart:c'])).toEqual([
        '1',
        '2',
        '3',
      ]);
    },
    2 * MINUTE,
  );

  it(
    'serves again once a short pause is over, and flushAll empties every master',
    async () => {
      await cluster.pause(300);
      expect(await viaCluster(cluster.ports[0]!, ['SET pause:key 1', 'GET pause:key'])).toEqual(['OK', '1']);
      await cluster.flushAll();
      for (const { port } of await cluster.masters()) expect(await redisCli(port, ['DBSIZE'])).toBe('0');
    },
    2 * MINUTE,
  );
});
