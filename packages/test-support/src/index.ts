export { type DeliveryTransition, maxInFlight, pacedPerMinute } from './delivery-events.js';
export { type LegacyBehaviour, LegacyCamera, LegacyRefused, type LegacyUpdate } from './legacy-camera.js';
export {
  PodProcess,
  type ProcessResult,
  ROOT,
  runFleet,
  spawnFleet,
  startGrowBuckets,
  startSim,
  TEST_TOKENS,
  type Tokens,
} from './processes.js';
export { CAMERA_PY_DIR, type CameraEvent, DEBIAN_PYTHON, PythonCamera } from './python-camera.js';
export { RawDevice, type ServerFrame, type WireErrorOf } from './raw-device.js';
export { freePort, RedisServer } from './redis.js';
export { parseInfo, type RedisCliOptions, redisCli, redisInfo } from './redis-cli.js';
export { connectTestRedis, digestEverywhere, keysEverywhere } from './redis-client.js';
export {
  type ClusterMaster,
  type ClusterReplica,
  type RedisClusterOptions,
  RedisClusterServer,
  type SlotMove,
  slotsOf,
} from './redis-cluster.js';
export { type MonitoredCommand, monitorRedis, parseMonitorLine } from './redis-monitor.js';
export { freePorts } from './redis-node.js';
export { type RedisSentinelOptions, RedisSentinelServer } from './redis-sentinel.js';
export type { Failover, RedisServerOptions, TestRedis, TestRedisMode } from './redis-types.js';
export {
  type BuildSwuOptions,
  buildSwu,
  liveProcessGroup,
  makeSigningKey,
  type RunSwuOptions,
  runSwu,
  type SigningKey,
  SWUPDATE_HARDWARE,
  type Swu,
  SwupdateAgent,
  type SwupdateAgentOptions,
  type SwupdateExit,
  type SwuRun,
  swDescription,
} from './swupdate.js';
export { startTestRedis, type TestRedisOptions, testRedisMode } from './test-redis.js';
export { startTestS3, TestS3 } from './test-s3.js';
export { type WaitOptions, waitFor } from './wait.js';
