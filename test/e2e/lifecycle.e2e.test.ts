import { PodProcess, startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 120_000 });

let redis: TestRedis | null = null;
afterEach(async () => {
  await redis?.destroy();
  redis = null;
});

describe('pod lifecycle', () => {
  it('exits 0 on SIGTERM even while Redis is down', async () => {
    redis = await startTestRedis();
    const pod = await PodProcess.start(redis.url, 'lonely', { FLEET_SHUTDOWN_GRACE_MS: '500' });
    await redis.stop('SIGKILL');
    const started = Date.now();
    expect(await pod.kill('SIGTERM')).toBe(0);
    // Grace for clients, then grace for Redis: bounded, well inside a Kubernetes termination period.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses to start with a clear message and exit code 78 when configuration is missing', async () => {
    redis = await startTestRedis();
    const failed = PodProcess.start(redis.url, 'misconfigured', { FLEET_ADMIN_TOKEN: '' });
    await expect(failed).rejects.toThrow(/exited \(78\)[\s\S]*FLEET_ADMIN_TOKEN/);
  });
});

describe('pod lifecycle with devices', () => {
  it('stays up but not ready while Redis is away, and is ready again by itself when it returns', async () => {
    redis = await startTestRedis({ appendOnly: true });
    const pod = await PodProcess.start(redis.url, 'patient');
    const readyz = async () => (await fetch(`${pod.url}/readyz`)).status;
    expect(await readyz()).toBe(200);
    await redis.stop('SIGKILL');
    await waitFor(async () => (await readyz()) === 503, { what: 'not ready without Redis' });
    expect((await fetch(`${pod.url}/healthz`)).status).toBe(200);
    await redis.restart();
    await waitFor(async () => (await readyz()) === 200, { what: 'ready again', timeoutMs: 20_000 });
    expect(await pod.kill('SIGTERM')).toBe(0);
  });

  it('drains on SIGTERM: not ready at once, devices move to the other pod, lease released, exit 0', async () => {
    const fleet = await TestFleet.up(2);
    try {
      const sim = fleet.sim(['--devices', '40']);
      await fleet.waitOnline(40);
      const [leaving, staying] = fleet.pods as [PodProcess, PodProcess];
      const instances = async () => (await fleet.admin.client.fleet.stats.query()).nodes.map((n) => n.node);
      expect((await instances()).length).toBe(2);
      const exited = leaving.kill('SIGTERM');
      await waitFor(async () => (await fetch(`${leaving.url}/readyz`).catch(() => null))?.status !== 200, {
        what: 'readiness to drop',
      });
      expect(await exited).toBe(0);
      const stats = await waitFor(
        async () => {
          const s = await fleet.admin.client.fleet.stats.query();
          return s.online === 40 && s.nodes.length === 1 ? s : null;
        },
        { what: 'every device on the remaining pod' },
      );
      expect(stats.nodes[0]?.node).toMatch(/^pod2\./);
      expect(staying.child.exitCode).toBeNull();
      const leases = await fleet.redisLeases();
      expect(leases.some((instance) => instance.startsWith('pod1.'))).toBe(false);
      expect((await sim.finish()).installsRepeated).toBe(0);
    } finally {
      await fleet.down();
    }
  });
});
