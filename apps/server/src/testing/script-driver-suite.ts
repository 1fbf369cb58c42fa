import { startTestRedis, type TestRedis } from '@camfleet/test-support';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { ScriptDriver } from './script-driver.js';

/**
 * For a test file: one private redis-server, and before each test a fresh driver with its own
 * key prefix (no state leaks between tests, no FLUSHALL). Read the driver through the getter.
 */
export function scriptDriverPerTest(prefix: string): { pod: () => ScriptDriver; server: () => TestRedis } {
  let server: TestRedis | undefined;
  let pod: ScriptDriver | undefined;
  let counter = 0;
  beforeAll(async () => {
    server = await startTestRedis();
  });
  afterAll(async () => {
    await pod?.close();
    await server?.destroy();
  });
  beforeEach(async () => {
    await pod?.close();
    pod = new ScriptDriver(server!.url, `${prefix}${++counter}`);
  });
  return { pod: () => pod!, server: () => server! };
}
