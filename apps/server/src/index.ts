export { ConfigError, loadConfig, type ServerConfig } from './config.js';
export { createLogger } from './log.js';
export { type RunningServer, startServer } from './server.js';
