export { ConfigError, loadConfig, type ServerConfig } from './config.js';
export { createLogger } from './log.js';
export { loadScriptSource, SCRIPT_KEYS, type ScriptName } from './redis/scripts.js';
export { type RunningServer, startServer } from './server.js';
