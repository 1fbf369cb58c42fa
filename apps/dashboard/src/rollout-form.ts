import type { RolloutTarget } from '@camfleet/contracts';
import { parseDuration } from '@camfleet/contracts/duration';
import { CreateRolloutInput, retryBackoffOf, windowFromText } from '@camfleet/contracts/forms';

/**
 * The new-rollout form as typed (every field text, as the CLI's flags are) and its reading into
 * `CreateRolloutInput`: the contracts' schema decides, the form only turns text into values and
 * says which field a problem belongs to. Fields left empty are left out, so the server's defaults apply.
 */
export interface RolloutForm {
  patchId: string;
  targetKind: RolloutTarget['kind'];
  selector: string;
  /** Device ids separated by commas, spaces or lines. */
  devices: string;
  /** Cumulative percentages: `1,10,100`. */
  waves: string;
  advance: 'auto' | 'manual';
  /** Percent. */
  successThreshold: string;
  soak: string;
  maxInFlight: string;
  maxPerMinute: string;
  rampStart: string;
  rampFactor: string;
  rampEvery: string;
  /** Percent; empty: failures never pause or abort. */
  failureThreshold: string;
  minSample: string;
  onFailure: 'pause' | 'abort';
  countTimeouts: boolean;
  ackTimeout: string;
  maxAttempts: string;
  retryBase: string;
  retryMax: string;
  snapshot: boolean;
  supersede: boolean;
  /** `datetime-local` values, in the browser's zone. */
  startAt: string;
  endBy: string;
  atEnd: 'cancel' | 'finish';
  /** One window a line: `Mon-Fri 01:00-04:00`. */
  windows: string;
  windowZone: string;
  downloadAhead: boolean;
}

export type FormField = keyof RolloutForm | 'form';
export type Problems = Partial<Record<FormField, string>>;

export const EMPTY_FORM: RolloutForm = {
  patchId: '',
  targetKind: 'all',
  selector: '',
  devices: '',
  waves: '',
  advance: 'auto',
  successThreshold: '',
  soak: '',
  maxInFlight: '',
  maxPerMinute: '',
  rampStart: '',
  rampFactor: '',
  rampEvery: '',
  failureThreshold: '',
  minSample: '',
  onFailure: 'pause',
  countTimeouts: false,
  ackTimeout: '',
  maxAttempts: '',
  retryBase: '',
  retryMax: '',
  snapshot: false,
  supersede: false,
  startAt: '',
  endBy: '',
  atEnd: 'cancel',
  windows: '',
  windowZone: '',
  downloadAhead: false,
};

/** A problem in a field's text, before the schema sees a value. */
class FieldProblem extends Error {
  constructor(
    readonly field: FormField,
    message: string,
  ) {
    super(message);
  }
}

const blank = (text: string) => text.trim() === '';

function numberOf(form: RolloutForm, field: keyof RolloutForm): number | undefined {
  const text = String(form[field]).trim();
  if (text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new FieldProblem(field, `'${text}' is not a number`);
  return n;
}

/** `95` or `95%` → 0.95. */
function shareOf(form: RolloutForm, field: 'successThreshold' | 'failureThreshold'): number | undefined {
  const percent = numberOf({ ...form, [field]: form[field].replace(/%\s*$/, '') }, field);
  return percent === undefined ? undefined : percent / 100;
}

function durationOf(
  form: RolloutForm,
  field: 'soak' | 'ackTimeout' | 'retryBase' | 'retryMax',
): number | undefined {
  if (blank(form[field])) return undefined;
  const ms = parseDuration(form[field]);
  if (ms === null) throw new FieldProblem(field, 'a duration such as 500ms, 60s, 10m or 1h');
  return ms;
}

function momentOf(form: RolloutForm, field: 'startAt' | 'endBy'): number | undefined {
  if (blank(form[field])) return undefined;
  const ms = new Date(form[field]).getTime();
  if (!Number.isFinite(ms)) throw new FieldProblem(field, 'a date and time');
  return ms;
}

/** The target the form names (its text unchecked: the schema checks ids and selector syntax). */
export function targetOf(form: RolloutForm): RolloutTarget {
  if (form.targetKind === 'selector') return { kind: 'selector', selector: form.selector.trim() };
  if (form.targetKind === 'devices') {
    const deviceIds = [...new Set(form.devices.split(/[\s,]+/).filter((id) => id !== ''))];
    return { kind: 'devices', deviceIds };
  }
  return { kind: 'all' };
}

function rampOf(form: RolloutForm): CreateRolloutInput['ramp'] | undefined {
  const parts = [numberOf(form, 'rampStart'), numberOf(form, 'rampFactor'), numberOf(form, 'rampEvery')];
  if (parts.every((p) => p === undefined)) return undefined;
  const [startPerMinute, factor, everySuccesses] = parts;
  if (startPerMinute === undefined || factor === undefined || everySuccesses === undefined) {
    throw new FieldProblem(
      'rampStart',
      'a ramp needs all three: offers a minute to start, factor, every so many successes',
    );
  }
  return { startPerMinute, factor, everySuccesses };
}

function windowsOf(form: RolloutForm): CreateRolloutInput['windows'] | undefined {
  const lines = form.windows.split('\n').filter((line) => !blank(line));
  if (lines.length === 0) return undefined;
  return lines.map((line) => {
    const read = windowFromText(line);
    if ('problem' in read) throw new FieldProblem('windows', `'${line.trim()}': ${read.problem}`);
    return read.window;
  });
}

/** `{ key: value }` when the value is given. */
function given<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The form's values, as the schema will check them. Throws FieldProblem for text that is no value. */
function valuesOf(form: RolloutForm): Record<string, unknown> {
  const retryBase = durationOf(form, 'retryBase');
  const retryMax = durationOf(form, 'retryMax');
  const waves = blank(form.waves)
    ? undefined
    : form.waves.split(',').map((item) => {
        const n = Number(item.trim().replace(/%$/, ''));
        if (!Number.isFinite(n) || item.trim() === '')
          throw new FieldProblem('waves', `'${item.trim()}' is not a percentage`);
        return n;
      });
  const failureThreshold = shareOf(form, 'failureThreshold');
  const windows = windowsOf(form);
  const endBy = momentOf(form, 'endBy');
  return {
    patchId: form.patchId,
    target: targetOf(form),
    ...given('waves', waves),
    advance: form.advance,
    ...given('successThreshold', shareOf(form, 'successThreshold')),
    ...given('soakMs', durationOf(form, 'soak')),
    ...given('maxInFlight', numberOf(form, 'maxInFlight')),
    ...given('maxPerMinute', numberOf(form, 'maxPerMinute')),
    ...given('ramp', rampOf(form)),
    // The threshold's settings mean nothing without it (the form disables them then).
    ...(failureThreshold !== undefined
      ? {
          failureThreshold,
          ...given('minSample', numberOf(form, 'minSample')),
          onFailure: form.onFailure,
          countTimeouts: form.countTimeouts,
        }
      : {}),
    ...given('ackTimeoutMs', durationOf(form, 'ackTimeout')),
    ...given('maxAttempts', numberOf(form, 'maxAttempts')),
    ...given('retryBackoff', retryBackoffOf(retryBase, retryMax)),
    snapshot: form.snapshot,
    supersede: form.supersede,
    ...given('startAt', momentOf(form, 'startAt')),
    ...(endBy !== undefined ? { endBy, atEnd: form.atEnd } : {}),
    ...(windows !== undefined
      ? {
          windows,
          ...(blank(form.windowZone) ? {} : { windowZone: form.windowZone.trim() }),
          downloadAhead: form.downloadAhead,
        }
      : {}),
  };
}

/** Where a schema issue's path lands in the form. */
function fieldOf(path: readonly PropertyKey[], form: RolloutForm): FormField {
  const [top, next] = path.map(String);
  const fields: Record<string, FormField> = {
    target: form.targetKind === 'devices' ? 'devices' : 'selector',
    soakMs: 'soak',
    ackTimeoutMs: 'ackTimeout',
    retryBackoff: next === 'maxMs' ? 'retryMax' : 'retryBase',
    ramp: next === 'factor' ? 'rampFactor' : next === 'everySuccesses' ? 'rampEvery' : 'rampStart',
  };
  if (top === undefined) return 'form';
  return fields[top] ?? (top in form ? (top as keyof RolloutForm) : 'form');
}

/** The form as a rollout to create, or its problems by field (the schema's words). */
export function readRolloutForm(
  form: RolloutForm,
): { ok: true; input: CreateRolloutInput } | { ok: false; problems: Problems } {
  let values: Record<string, unknown>;
  try {
    values = valuesOf(form);
  } catch (error) {
    if (error instanceof FieldProblem) return { ok: false, problems: { [error.field]: error.message } };
    throw error;
  }
  const parsed = CreateRolloutInput.safeParse(values);
  if (parsed.success) return { ok: true, input: parsed.data };
  const problems: Problems = {};
  for (const issue of parsed.error.issues) problems[fieldOf(issue.path, form)] ??= issue.message;
  return { ok: false, problems };
}
