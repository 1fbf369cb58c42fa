import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bucketKeysLua, webhookKeysLua } from './keys.js';

const LUA_DIR = join(import.meta.dirname, 'lua');
const INCLUDE = /^-- @include (\w+)$/gm;

/** Includes generated from the key tables: `keys` (buckets) and `webhook_keys`. */
const GENERATED: Readonly<Record<string, () => string>> = {
  keys: bucketKeysLua,
  webhook_keys: webhookKeysLua,
};

/** An include's source: a file in lua/includes, or one generated from a key table. */
function includeSource(name: string): string {
  return GENERATED[name]?.() ?? readFileSync(join(LUA_DIR, 'includes', `${name}.lua`), 'utf8');
}

/**
 * A script's source with its `-- @include name` lines replaced by the includes, each once, the
 * includes' own includes first (an include names what it needs, so a script names only what it uses).
 * Every script starts with `slot_guard`: nothing runs while its Cluster slot is being moved.
 */
export function loadScriptSource(name: string): string {
  const included = new Set<string>(['slot_guard']);
  const expand = (source: string): string =>
    source.replace(INCLUDE, (_, include: string) => {
      if (included.has(include)) return '';
      included.add(include);
      return expand(includeSource(include));
    });
  return includeSource('slot_guard') + expand(readFileSync(join(LUA_DIR, `${name}.lua`), 'utf8'));
}

/** The transition scripts in lua/ (not the includes). */
export function scriptFiles(): string[] {
  return readdirSync(LUA_DIR)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => file.slice(0, -4))
    .sort();
}
