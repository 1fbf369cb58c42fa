import { type Logger, pino } from 'pino';
import { loadConfig } from '../config.js';
import { type RunningServer, startServer } from '../server.js';

export const ADMIN_TOKEN = 'test-admin-token';
export const ENROLL_TOKEN = 'test-enroll-token';

/**
 * A pod in this process, on a free port, against the given Redis. `log` defaults to a silent one
 * (TEST_LOG_LEVEL overrides the level); pass one to capture what the pod logs.
 */
export function startTestPod(
  redisUrl: string,
  env: Record<string, string> = {},
  log: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
): Promise<RunningServer> {
  const config = loadConfig({
    REDIS_URL: redisUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    FLEET_ADMIN_TOKEN: ADMIN_TOKEN,
    FLEET_ENROLL_TOKEN: ENROLL_TOKEN,
    FLEET_NODE_ID: 'test',
    FLEET_SWEEP_INTERVAL_MS: '50',
    FLEET_SHUTDOWN_GRACE_MS: '500',
    ...env,
  });
  return startServer(config, log);
}
