import { DeviceId, PatchId, parseDuration, RolloutId } from '@camfleet/contracts';
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
