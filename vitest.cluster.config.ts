import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The suites whose subject is the server's use of Redis, again, each on a private Redis Cluster (3
 * masters, 3 replicas) instead of one instance: the same scripts and keys, routed over hash slots.
 * The clients' suites (CLI, simulator, bench) and the end-to-end suites that add nothing on the
 * server side beyond `rollout.e2e` (rollout control, legacy: their server suites run here) are not
 * repeated: they reach Redis only through the server code covered here, and the pass stays short
 * enough for a loaded CI machine. Pod processes killed and drained over a cluster (lifecycle's
 * subject) are the chaos suite's cluster run; artifacts in Redis over a cluster, the artifact
 * server suites' (artifacts/*.integration).
 */
export default defineConfig({
  test: {
    ...base.test,
    env: { FLEET_TEST_REDIS: 'cluster' },
    exclude: (base.test?.exclude ?? []).filter((pattern) => pattern !== '**/*.cluster.test.ts'),
    include: [
      'apps/server/src/**/*.integration.test.ts',
      'apps/server/src/**/*.property.test.ts',
      // Only meaningful on a cluster: a slot moving between masters.
      'apps/server/src/**/*.cluster.test.ts',
      'test/e2e/rollout.e2e.test.ts',
    ],
  },
});
