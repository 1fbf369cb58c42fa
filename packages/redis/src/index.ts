export { type ConnectOptions, connectRedis, isCluster, mastersOf, type RedisClient } from './connect.js';
export {
  describeTarget,
  type HostPort,
  parseHostList,
  parseRedisUrl,
  type RedisMode,
  type RedisTarget,
  RedisTargetError,
} from './target.js';
