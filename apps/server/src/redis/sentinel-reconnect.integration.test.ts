import { connectRedis, parseRedisUrl } from '@camfleet/redis';
import { RedisSentinelServer, waitFor } from '@camfleet/test-support';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let redis: RedisSentinelServer;
beforeAll(async () => {
  redis = await RedisSentinelServer.start({ downAfterMs: 1_000 });
}, 120_000);
afterAll(async () => {
  await redis?.destroy();
});

/** The parts of ioredis' Sentinel connector the race goes through (not public API). */
interface SentinelConnector {
  resolve(endpoint: unknown): Promise<unknown>;
  disconnect(): void;
}

describe('a Sentinel connection whose reconnect is cut off by a failover', () => {
  it('connects again instead of ending for good', async () => {
    const client = connectRedis(parseRedisUrl(redis.url), { name: 'cut-off', waitOutOutages: true }) as Redis;
    const errors: string[] = [];
    client.on('error', (error: Error) => errors.push(error.message));
    try {
      expect(await client.ping()).toBe('PONG');
      // What the failover detector of the dead connection does on +switch-master, made to land
      // exactly while the reconnect asks the Sentinels for the master.
      const connector = (client as unknown as { connector: SentinelConnector }).connector;
      const resolve = connector.resolve.bind(connector);
      let cut = false;
      connector.resolve = async (endpoint) => {
        const resolved = await resolve(endpoint);
        if (!cut) {
          cut = true;
          connector.disconnect();
        }
        return resolved;
      };
      client.disconnect(true);
      await waitFor(() => cut, { what: 'a reconnect to be cut off' });
      await waitFor(async () => (await client.ping()) === 'PONG', { what: 'the connection back' });
      expect(errors).toContain('Connection is closed.');
      expect(client.status).toBe('ready');
    } finally {
      client.disconnect();
    }
  });
});
