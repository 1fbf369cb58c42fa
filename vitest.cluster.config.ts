import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The integration and end-to-end suites again, each on a private Redis Cluster (3 masters, 3
 * replicas) instead of one instance: the same code paths, routed over hash slots. Left out: the
 * suites that pick their Redis themselves (the launchers' own tests, failover, manifests).
 */
export default defineConfig({
  test: {
    ...base.test,
    env: { FLEET_TEST_REDIS: 'cluster' },
    exclude: [
      ...(base.test?.exclude ?? []),
      'packages/test-support/**',
      'test/e2e/failover.e2e.test.ts',
      'test/infra/**',
    ],
  },
});
