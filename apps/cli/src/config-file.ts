import { chmodSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { UsageError } from './errors.js';
import type { FleetIO } from './io.js';

/**
 * The CLI's own config file, `$XDG_CONFIG_HOME/camfleet/config.json` (default
 * `~/.config/camfleet/config.json`): named contexts (a pod URL and a token each) and the current
 * one, like kubectl's. It holds tokens, so it is always written with mode 0600.
 */

export interface FleetContext {
  url: string;
  /** Absent: the token comes from FLEET_TOKEN or --token. */
  token?: string;
}

export interface FleetConfigFile {
  currentContext: string | null;
  contexts: Record<string, FleetContext>;
}

export const EMPTY_CONFIG: FleetConfigFile = { currentContext: null, contexts: {} };

/** Context names: letters, digits and `._@:/-`, 1-64 characters (they end up in shell completions and tables). */
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,63}$/;

export function checkContextName(name: string): string {
  if (!CONTEXT_NAME.test(name)) {
    throw new UsageError(
      `invalid context name '${name}': use 1-64 letters, digits and . _ @ : / - (starting with a letter or digit)`,
    );
  }
  return name;
}

/**
 * Where the file lives: `$XDG_CONFIG_HOME/camfleet/config.json` if that is an absolute path,
 * `$HOME/.config/camfleet/config.json` otherwise; null when neither is set (no config file).
 */
export function configPath(env: FleetIO['env']): string | null {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  if (xdg && isAbsolute(xdg)) return join(xdg, 'camfleet', 'config.json');
  const home = env.HOME?.trim();
  if (home) return join(home, '.config', 'camfleet', 'config.json');
  return null;
}

function invalid(path: string, why: string): UsageError {
  return new UsageError(`invalid config file ${path}: ${why} (fix or delete it)`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and checks the file's JSON; anything malformed is a configuration error (exit 2). */
export function parseConfigFile(text: string, path: string): FleetConfigFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw invalid(path, error instanceof Error ? error.message : String(error));
  }
  if (!isRecord(data)) throw invalid(path, 'expected a JSON object');
  const current = data.currentContext ?? null;
  if (current !== null && typeof current !== 'string') throw invalid(path, 'currentContext must be a string');
  const rawContexts = data.contexts ?? {};
  if (!isRecord(rawContexts)) throw invalid(path, 'contexts must be an object');
  const contexts: Record<string, FleetContext> = {};
  for (const [name, value] of Object.entries(rawContexts)) {
    if (!isRecord(value) || typeof value.url !== 'string') {
      throw invalid(path, `context '${name}' needs a url string`);
    }
    if (value.token !== undefined && typeof value.token !== 'string') {
      throw invalid(path, `the token of context '${name}' must be a string`);
    }
    contexts[name] = { url: value.url, ...(typeof value.token === 'string' ? { token: value.token } : {}) };
  }
  return { currentContext: current, contexts };
}

/** The file's contents; an empty config when there is no file (or no HOME). */
export function readConfigFile(path: string | null): FleetConfigFile {
  if (path === null) return EMPTY_CONFIG;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return EMPTY_CONFIG;
    throw new UsageError(
      `cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return parseConfigFile(text, path);
}

/**
 * Replaces the file atomically (a temporary file in the same directory, renamed over it), with
 * mode 0600 whatever the umask; the directory is created 0700 if missing.
 */
export function writeConfigFile(path: string, config: FleetConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // never created, or already renamed
    }
    throw new UsageError(
      `cannot write config file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
