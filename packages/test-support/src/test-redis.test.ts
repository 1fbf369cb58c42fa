import { afterEach, describe, expect, it } from 'vitest';
import { redisCli } from './redis-cli.js';
import { startTestRedis, testRedisMode } from './test-redis.js';

describe('testRedisMode', () => {
  const original = process.env.FLEET_TEST_REDIS;
  afterEach(() => {
    if (original === undefined) delete process.env.FLEET_TEST_REDIS;
    else process.env.FLEET_TEST_REDIS = original;
  });

  it('is single unless FLEET_TEST_REDIS names another engine', () => {
    delete process.env.FLEET_TEST_REDIS;
    expect(testRedisMode()).toBe('single');
    process.env.FLEET_TEST_REDIS = '';
    expect(testRedisMode()).toBe('single');
    for (const mode of ['single', 'cluster', 'sentinel'] as const) {
      process.env.FLEET_TEST_REDIS = mode;
      expect(testRedisMode()).toBe(mode);
    }
  });

  it('refuses anything else, naming the variable and the choices', () => {
    process.env.FLEET_TEST_REDIS = 'Cluster';
    expect(() => testRedisMode()).toThrow(
      /FLEET_TEST_REDIS must be one of single, cluster, sentinel.*'Cluster'/,
    );
  });
});

describe('startTestRedis', () => {
  it('starts the engine asked for: a single redis-server behind redis://', async () => {
    const redis = await startTestRedis({ mode: 'single' });
    try {
      expect(redis.mode).toBe('single');
      const port = Number(/^redis:\/\/127\.0\.0\.1:(\d+)$/.exec(redis.url)?.[1]);
      expect(await redisCli(port, ['PING'])).toBe('PONG');
    } finally {
      await redis.destroy();
    }
  });
});
