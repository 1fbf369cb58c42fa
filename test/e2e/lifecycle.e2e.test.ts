import { PodProcess, RedisServer } from '@camfleet/test-support';
import { afterEach, describe, expect, it } from 'vitest';

let redis: RedisServer | null = null;
afterEach(async () => {
  await redis?.destroy();
  redis = null;
});

describe('pod lifecycle', () => {
  it('exits 0 on SIGTERM even while Redis is down', async () => {
    redis = await RedisServer.start();
    const pod = await PodProcess.start(redis.url, 'lonely', { FLEET_SHUTDOWN_GRACE_MS: '500' });
    await redis.stop('SIGKILL');
    const started = Date.now();
    expect(await pod.kill('SIGTERM')).toBe(0);
    // Grace for clients, then grace for Redis: bounded, well inside a Kubernetes termination period.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses to start with a clear message and exit code 78 when configuration is missing', async () => {
    redis = await RedisServer.start();
    const failed = PodProcess.start(redis.url, 'misconfigured', { FLEET_ADMIN_TOKEN: '' });
    await expect(failed).rejects.toThrow(/exited \(78\)[\s\S]*FLEET_ADMIN_TOKEN/);
  });
});
