export { freePort, RedisServer, type RedisServerOptions } from './redis.js';
export { type WaitOptions, waitFor } from './wait.js';
