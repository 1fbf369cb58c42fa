import superjson from 'superjson';

/** Objects and arrays a value may hold before the quick check gives up and superjson decides. */
const MAX_NODES = 64;

/** Keys superjson refuses (it throws): such a value is left to superjson. */
function refusedKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/**
 * Whether superjson's envelope of `value` is exactly `{ json: value }`: only strings, booleans,
 * null, finite numbers other than -0, plain objects and arrays without holes, no object reached
 * twice (superjson would annotate a referential equality) and no key superjson refuses. `seen`
 * collects the objects met; past MAX_NODES the answer is no.
 */
function plain(value: unknown, seen: object[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !(value === 0 && 1 / value < 0);
    case 'object': {
      if (value === null) return true;
      if (seen.length >= MAX_NODES || seen.includes(value)) return false;
      seen.push(value);
      if (Array.isArray(value)) {
        // Holes and extra properties: superjson's walk (Object.entries) sees them, leave it to it.
        if (Object.keys(value).length !== value.length) return false;
        for (const item of value) if (!plain(item, seen)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      const record = value as Record<string, unknown>;
      for (const key in record) {
        if (refusedKey(key) || !plain(record[key], seen)) return false;
      }
      return true;
    }
    default:
      // undefined, bigint, symbol, function: superjson annotates or transforms them.
      return false;
  }
}

/**
 * superjson's `serialize`, without its walk for the values that need none: server-produced data
 * (an offer, a report's answer) is plain JSON, whose envelope is `{ json: value }` — the value
 * itself, not a copy, so it must not change before it is stringified. Anything else, and anything
 * the quick check is unsure of, goes through superjson as before. Only valid for superjson's
 * default instance with no custom transformers registered (camfleet registers none).
 */
export function serializeSuperjson(value: unknown): { json: unknown; meta?: unknown } {
  if (plain(value, [])) return { json: value };
  return superjson.serialize(value) as { json: unknown; meta?: unknown };
}

/** Whether a router's transformer is superjson's default instance, for which serializeSuperjson holds. */
export function isDefaultSuperjson(transformer: { output: unknown }): boolean {
  return transformer.output === superjson;
}

/** Whether a freshly parsed JSON value has a `__proto__` key anywhere (own, as JSON.parse makes it). */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (hasProtoKey(item)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) if (key === '__proto__' || hasProtoKey(record[key])) return true;
  return false;
}

/**
 * superjson's `deserialize` of an input the transport has just parsed with JSON.parse (the frame is
 * read once and dropped): an envelope without `meta` is its `json`, which superjson would deep-copy
 * first; the copy is skipped. A `__proto__` key (the copy gives it a prototype's meaning), `meta`,
 * or anything but an envelope object goes through superjson as before.
 */
export function deserializeParsedSuperjson(payload: unknown): unknown {
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const { json, meta } = payload as { json?: unknown; meta?: unknown };
    if (meta === undefined && !hasProtoKey(json)) return json;
  }
  return superjson.deserialize(payload as Parameters<typeof superjson.deserialize>[0]);
}
