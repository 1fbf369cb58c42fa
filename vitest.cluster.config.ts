import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The suites whose subject is the server's use of Redis, again, each on a private Redis Cluster (3
 * masters, 3 replicas) instead of one instance: the same scripts and keys, routed over hash slots.
 * The clients' suites (CLI, simulator, bench) and the end-to-end suites are not repeated: they
 * reach Redis only through the server code covered here, and the pass stays short enough for a
 * loaded CI machine. Pods and cameras as processes over a cluster are the failover suite's (a
 * rollout through a master's death) and the chaos suite's cluster run (pods killed and drained,
 * masters killed, slots moved); artifacts in Redis over a cluster, the artifact server suites'
 * (artifacts/*.integration).
 */
export default defineConfig({
  test: {
    ...base.test,
    env: { FLEET_TEST_REDIS: 'cluster' },
    exclude: [
      ...(base.test?.exclude ?? []).filter((pattern) => pattern !== '**/*.cluster.test.ts'),
      // Their subject is time (maintenance windows, schedules: a minute of waiting between them),
      // through scripts every other suite here runs on the cluster: not worth a second minute of CI.
      'apps/server/src/fleet/windows.integration.test.ts',
      'apps/server/src/fleet/schedules.integration.test.ts',
      // Its own Sentinel set whatever the pass: nothing of it runs on the cluster.
      'apps/server/src/redis/sentinel-reconnect.integration.test.ts',
    ],
    include: [
      'apps/server/src/**/*.integration.test.ts',
      'apps/server/src/**/*.property.test.ts',
      // Only meaningful on a cluster: a slot moving between masters.
      'apps/server/src/**/*.cluster.test.ts',
    ],
  },
});
