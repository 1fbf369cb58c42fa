export { ConfigError, loadConfig, type ServerConfig } from './config.js';
export { DeliveryRetention } from './fleet/retention.js';
export { createLogger } from './log.js';
export { loadScriptSource } from './redis/lua.js';
export { ALL_SCRIPTS } from './redis/scripts/index.js';
export { type RunningServer, startServer } from './server.js';
