import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCli, redisInfo } from './redis-cli.js';
import { connectTestRedis } from './redis-client.js';
import { RedisSentinelServer } from './redis-sentinel.js';

const MINUTE = 60_000;

describe('RedisSentinelServer', () => {
  let redis: RedisSentinelServer;

  beforeAll(async () => {
    const startedAt = performance.now();
    redis = await RedisSentinelServer.start({ appendOnly: true, downAfterMs: 1_000 });
    console.log(
      `sentinel set (master + 1 replica + 3 sentinels) up in ${Math.round(performance.now() - startedAt)} ms`,
    );
  }, 2 * MINUTE);

  afterAll(async () => {
    await redis?.destroy();
  });

  it('has every sentinel watching the master, its replica and the other sentinels', async () => {
    expect(redis.mode).toBe('sentinel');
    expect(redis.masterName).toBe('camfleet');
    expect(redis.url).toBe(
      `redis+sentinel://${redis.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',')}/camfleet`,
    );
    const master = await redis.currentMaster();
    expect((await redisInfo(master, 'replication')).get('role')).toBe('master');
    for (const port of redis.sentinelPorts) {
      const reply = await redisCli(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'camfleet']);
      expect(reply.split('\n')).toEqual(['127.0.0.1', String(master)]);
      const replicas = await redisCli(port, ['SENTINEL', 'REPLICAS', 'camfleet']);
      expect(replicas).toContain(String(redis.dataPorts.find((candidate) => candidate !== master)));
    }
  });

  it(
    'promotes the replica when the master dies, with the replicated key',
    async () => {
      const before = await redis.currentMaster();
      // WAIT 1: the write is on the replica before the master dies, so the failover cannot lose it.
      // No timeout of its own (0: until the replica has it); the test's bounds the wait.
      const written = await redisCli(before, [], {
        input: 'SET failover:key survived\nWAIT 1 0\n',
        timeoutMs: 2 * MINUTE,
      });
      expect(written.split('\n')).toEqual(['OK', '1']);

      const failover = await redis.killMaster();
      console.log(`sentinel failover: ${JSON.stringify(failover)}`);
      expect(failover.killedPort).toBe(before);
      expect(failover.promotedPort).not.toBe(before);
      expect(await redis.currentMaster()).toBe(failover.promotedPort);
      for (const port of redis.sentinelPorts) {
        const reply = await redisCli(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'camfleet']);
        expect(reply.split('\n')[1]).toBe(String(failover.promotedPort));
      }
      expect(await redisCli(failover.promotedPort, ['GET', 'failover:key'])).toBe('survived');
    },
    2 * MINUTE,
  );

  it(
    'restarts everything on the same ports with its data, the dead master back as a replica',
    async () => {
      const master = await redis.currentMaster();
      expect(await redisCli(master, ['SET', 'restart:key', 'kept'])).toBe('OK');
      const restartedAt = performance.now();
      await redis.restart();
      console.log(`sentinel restart (SIGTERM) took ${Math.round(performance.now() - restartedAt)} ms`);
      expect(await redis.currentMaster()).toBe(master);
      expect(await redisCli(master, ['MGET', 'restart:key', 'failover:key'])).toBe('kept\nsurvived');
      for (const port of redis.dataPorts.filter((candidate) => candidate !== master)) {
        const info = await redisInfo(port, 'replication');
        expect(info.get('role')).toBe('slave');
        expect(info.get('master_port')).toBe(String(master));
      }
    },
    2 * MINUTE,
  );

  it(
    'serves again once a short pause of the data nodes is over',
    async () => {
      await redis.pause(300);
      const master = await redis.currentMaster();
      expect(await redisCli(master, ['SET', 'pause:key', '1'])).toBe('OK');
    },
    2 * MINUTE,
  );
});

describe('RedisSentinelServer with passwords', () => {
  let redis: RedisSentinelServer;

  beforeAll(async () => {
    redis = await RedisSentinelServer.start({ password: 'sentinel-test-pw' });
  }, 2 * MINUTE);

  afterAll(async () => {
    await redis?.destroy();
  });

  it('asks every data node and every Sentinel for the password; a client with both works', async () => {
    const master = await redis.currentMaster();
    await expect(redisCli(master, ['GET', 'x'])).rejects.toThrow(/NOAUTH/);
    await expect(redisCli(redis.sentinelPorts[0] ?? 0, ['SENTINEL', 'MASTERS'])).rejects.toThrow(/NOAUTH/);
    expect(redis.url).toMatch(/^redis\+sentinel:\/\/:sentinel-test-pw@127\.0\.0\.1:/);
    expect(redis.podEnv).toEqual({ REDIS_SENTINEL_PASSWORD: 'sentinel-test-pw' });
    const client = connectTestRedis(redis.url, { sentinelPassword: redis.podEnv.REDIS_SENTINEL_PASSWORD });
    try {
      await client.set('auth:key', 'in');
      expect(await client.get('auth:key')).toBe('in');
    } finally {
      client.disconnect();
    }
  });
});
