import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    // The chaos suite runs on its own (`pnpm test:chaos`): minutes of faults, not part of every run.
    // `*.cluster.test.ts`: about a Redis Cluster's own moves (`pnpm test:cluster` runs them).
    exclude: ['test/chaos/**', 'test/browser/**', '**/*.cluster.test.ts', '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: end-to-end suites run real pods and simulators, so keep the parallelism honest.
    maxWorkers: 2,
  },
});
