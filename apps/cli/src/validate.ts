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

/** Checks a value against a contracts schema before anything is sent; failures are usage errors. */
export function check(what: string, schema: Schema, value: unknown): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  const detail = result.error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '') + issue.message)
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
