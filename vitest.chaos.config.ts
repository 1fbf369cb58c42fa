import { defineConfig } from 'vitest/config';

/** `pnpm test:chaos`: pods, Redis and cameras under seeded faults (CHAOS_SEED replays a run). */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
