import { defineConfig } from 'vitest/config';

/**
 * `vitest run --config vitest.browser.config.ts`: the dashboard in Debian's chromium against real
 * pods, Redis and simulated cameras (test/browser). Needs /usr/bin/chromium (CHROMIUM_PATH overrides).
 */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    // A page shows a change after a server push and a render: on a loaded machine that can take
    // seconds, and vitest's 1 s default for expect.poll would race it.
    expect: { poll: { timeout: 30_000 } },
  },
});
