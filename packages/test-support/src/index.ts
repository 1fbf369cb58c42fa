export { type DeliveryTransition, maxInFlight, pacedPerMinute } from './delivery-events.js';
export {
  PodProcess,
  type ProcessResult,
  ROOT,
  runFleet,
  spawnFleet,
  startSim,
  TEST_TOKENS,
  type Tokens,
} from './processes.js';
export { freePort, RedisServer, type RedisServerOptions } from './redis.js';
export { type WaitOptions, waitFor } from './wait.js';
