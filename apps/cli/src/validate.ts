import {
  DeviceId,
  LabelKey,
  Labels,
  LabelValue,
  PatchId,
  parseDuration,
  parseLongDuration,
  parseSelector,
  RolloutId,
  SelectorError,
  StoredDeviceId,
  TokenIdInput,
} from '@camfleet/contracts';
import { UsageError } from './errors.js';

/** A duration flag (`500ms`, `60s`, `5m`, `1h`) in milliseconds; anything else is a usage error. */
export function durationOption(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null) {
    throw new UsageError(`invalid duration for ${flag}: '${text}' (use e.g. 500ms, 60s, 5m, 1h)`);
  }
  return ms;
}

/** RFC 3339: a date, a time with seconds (a fraction allowed), and Z or an offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A moment flag in RFC 3339 (`2026-12-24T01:00:00+01:00`), as epoch milliseconds. */
export function timeOption(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = RFC3339.test(text.trim()) ? Date.parse(text.trim().replace(' ', 'T')) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `invalid time for ${flag}: '${text}' (RFC 3339 with a zone, e.g. 2026-12-24T01:00:00Z or 2026-12-24T02:00:00+01:00)`,
    );
  }
  return ms;
}

/** A whole-number flag within [min, max]. */
export function intOption(
  flag: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`invalid value for ${flag}: '${text}' (a whole number from ${min} to ${max})`);
  }
  return value;
}

interface Schema {
  safeParse(value: unknown): { success: true } | { success: false; error: { issues: ReadonlyArray<Issue> } };
}
interface Issue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/**
 * Checks a value against a contracts schema before anything is sent; failures are usage errors.
 * `name` turns an issue's path into what the user typed (null: leave the path out).
 */
export function check(
  what: string,
  schema: Schema,
  value: unknown,
  name: (path: ReadonlyArray<PropertyKey>) => string | null = (path) =>
    path.length > 0 ? path.map(String).join('.') : null,
): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  const detail = result.error.issues
    .map((issue) => {
      const label = name(issue.path);
      return (label !== null ? `${label}: ` : '') + issue.message;
    })
    .join('; ');
  throw new UsageError(`invalid ${what}: ${detail}`);
}

export function patchIdArg(id: string): string {
  check(`patch id '${id}'`, PatchId, id);
  return id;
}

export function rolloutIdArg(id: string): string {
  check(`rollout id '${id}'`, RolloutId, id);
  return id;
}

export function deviceIdArg(id: string): string {
  check(`device id '${id}'`, DeviceId, id);
  return id;
}

/**
 * An existing device's id, as an older version may have stored it (with `:`): what `device show`
 * and `device revoke` take, so the ids `fleet check ids` lists can be inspected and retired.
 */
export function storedDeviceIdArg(id: string): string {
  check(`device id '${id}'`, StoredDeviceId, id);
  return id;
}

/** The id of a runtime-issued admin or enrollment token, as `token list` shows it. */
export function tokenIdArg(id: string): string {
  check(`token id '${id}'`, TokenIdInput, { id }, () => null);
  return id;
}

const DAY_MS = 86_400_000;

/** The shortest and longest lifetime the server gives a token (contracts' CreateTokenInput). */
export const EXPIRY_MIN_MS = 60_000;
export const EXPIRY_MAX_MS = 3 * 365 * DAY_MS;

/**
 * A token lifetime flag (`30d`, `12h`, `90m`) in milliseconds, from 1m to 1095d (3 years);
 * `never` (or the flag left out) means until revoked: null.
 */
export function expiryOption(flag: string, text: string | undefined): number | null {
  if (text === undefined || text.trim() === 'never') return null;
  const ms = parseLongDuration(text);
  if (ms === null) {
    throw new UsageError(`invalid duration for ${flag}: '${text}' (use e.g. 90m, 12h, 30d, or never)`);
  }
  if (ms < EXPIRY_MIN_MS || ms > EXPIRY_MAX_MS) {
    throw new UsageError(`invalid value for ${flag}: '${text}' (from 1m to 1095d, or never)`);
  }
  return ms;
}

/**
 * `--labels site=berlin,tier=canary` as a label map, checked against the contracts' Labels
 * (keys: letters, digits and . _ / -; at most 32). A value may be empty (`key=`); a key may not repeat.
 */
export function labelsOption(flag: string, text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const labels = new Map<string, string>();
  for (const item of listOption(flag, text)) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (key === '') {
      throw new UsageError(`invalid value for ${flag}: '${item}' (labels are key=value, comma-separated)`);
    }
    if (labels.has(key)) throw new UsageError(`invalid value for ${flag}: label '${key}' given twice`);
    const value = item.slice(eq + 1).trim();
    check(`label key '${key}' in ${flag}`, LabelKey, key);
    check(`value of label '${key}' in ${flag}`, LabelValue, value);
    labels.set(key, value);
  }
  const record = Object.fromEntries(labels);
  check(flag, Labels, record, () => null);
  return record;
}

/**
 * A percentage flag as a share in [0, 1]: `95%` and `95` both mean 95% (→ 0.95), `99.5%` too.
 * A bare fraction such as `0.95` is refused as ambiguous (95%? 0.95%?): write `95%` or `0.95%`.
 */
export function percentOption(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  const value = match ? Number(match[1]) : Number.NaN;
  if (!match || !Number.isFinite(value) || value > 100) {
    throw new UsageError(`invalid value for ${flag}: '${text}' (a percentage from 0 to 100, e.g. 95%)`);
  }
  if (match[2] === '' && value > 0 && value < 1) {
    throw new UsageError(
      `ambiguous value for ${flag}: '${text}' (percentages are written 95% or 95; for under one percent write ${value}%)`,
    );
  }
  return value / 100;
}

/** A comma-separated flag value: items trimmed, an empty item is a usage error. */
export function listOption(flag: string, text: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw new UsageError(`invalid value for ${flag}: '${text}' (a comma-separated list without empty items)`);
  }
  return items;
}

/** A number in a list flag (`1`, `2.5`); `%` allowed after it when `percent` is set. */
export function listNumber(flag: string, item: string, percent = false): number {
  const match = (percent ? /^(\d+(?:\.\d+)?)%?$/ : /^(\d+(?:\.\d+)?)$/).exec(item);
  if (!match) throw new UsageError(`invalid value for ${flag}: '${item}' is not a number`);
  return Number(match[1]);
}

/** A `--selector` expression, checked here so a typo is a usage error (exit 2), not a server round trip. */
export function selectorOption(text: string): string {
  try {
    parseSelector(text);
  } catch (error) {
    if (error instanceof SelectorError)
      throw new UsageError(`invalid --selector '${text}': ${error.message}`);
    throw error;
  }
  return text;
}
