/**
 * zod → JSON Schema (draft 2020-12), for every document generated from the contracts: the device
 * protocol's schema files (protocol/json-schemas.ts) and the REST API's OpenAPI document
 * (rest/openapi.ts). A refinement zod cannot translate is written here by hand and checked against
 * zod: generation fails on one nobody wrote down, so a schema never accepts quietly what the
 * server refuses.
 */
import { type core, z } from 'zod';
import { ReportInput } from './routers/device.schema.js';
import { RetryBackoff, SelectorText, Waves } from './routers/rollout.schema.js';
import {
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_WILDCARDS,
  WebhookEventPattern,
  WebhookUrl,
} from './routers/webhooks.schema.js';
import { Labels } from './schemas.js';

export type JsonSchema = core.JSONSchema.BaseSchema;

// Text rules: the superRefine of safeText and freeText (schemas.ts), as patterns. A surrogate
// pair is matched both as one code point (`u` flag, as ajv reads patterns) and as two code units
// (without it), so the patterns mean the same either way; a lone surrogate matches neither.
const SURROGATE_PAIR = '[\\ud800-\\udbff][\\udc00-\\udfff]';
const BIDI_CONTROLS = '\\u202a-\\u202e\\u2066-\\u2069';
const LONE_SURROGATES = '\\ud800-\\udfff';
const NO_CONTROLS =
  'none of U+0000–U+001F, U+007F–U+009F, the bidirectional controls U+202A–U+202E and U+2066–U+2069, and no lone surrogates';

interface TextRule {
  readonly pattern: string;
  readonly description: string;
}

const TEXT_RULES: readonly TextRule[] = [
  {
    pattern: `^(?:[^\\u0000-\\u001f\\u007f-\\u009f${BIDI_CONTROLS}${LONE_SURROGATES}]|${SURROGATE_PAIR})*$`,
    description: `No control characters: ${NO_CONTROLS}.`,
  },
  {
    pattern: `^(?:[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f${BIDI_CONTROLS}${LONE_SURROGATES}]|${SURROGATE_PAIR})*$`,
    description: `Tab, CR and LF are taken (each becomes a space); no other control characters: ${NO_CONTROLS}.`,
  },
];

/** Strings a text rule must judge as zod does before it stands in for a refinement. */
const TEXT_PROBES = [
  '',
  'plain text',
  'ünïcödé 文字 \u00a0',
  'tab\there',
  'cr\rlf\n',
  '\u0000',
  'x\u001f',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u00a0',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  '\u2067x',
  '\ud800',
  'x\udc00',
  'a\ud83d\ude00b',
  '\ude00\ud83d',
];

function textRuleOf(zodSchema: core.$ZodType, json: JsonSchema): TextRule | null {
  const min = json.minLength ?? 0;
  const max = json.maxLength ?? Number.POSITIVE_INFINITY;
  // Lengths in code points, as zod and JSON Schema count them.
  const length = (text: string) => [...text].length;
  const probes = TEXT_PROBES.map((text) => text + 'a'.repeat(Math.max(0, min - length(text)))).filter(
    (text) => length(text) <= max,
  );
  return (
    TEXT_RULES.find((rule) => {
      const unicode = new RegExp(rule.pattern, 'u');
      const units = new RegExp(rule.pattern);
      return probes.every((text) => {
        const accepted = z.safeParse(zodSchema, text).success;
        return unicode.test(text) === accepted && units.test(text) === accepted;
      });
    }) ?? null
  );
}

function describe(json: JsonSchema, text: string): void {
  if (json.description?.includes(text)) return;
  json.description = json.description ? `${json.description} ${text}` : text;
}

interface ByHand {
  /** How many refinements it expresses: one more added to the schema fails generation. */
  readonly refinements: number;
  /** Writes the rules into the generated schema; `zodSchema` is the schema that carries them. */
  readonly express: (json: JsonSchema, zodSchema: core.$ZodType) => void;
}

/**
 * A safeText refined once more: the text rule of the safeText (checked against zod as any text rule
 * is), and the further rule in words.
 */
function refinedText(rule: string): ByHand {
  return {
    refinements: 2,
    express: (json, zodSchema) => {
      const parent = zodSchema._zod.parent;
      if (!parent || !applyTextRule(parent, json))
        throw new Error('a schema json-schema.ts expresses as refinedText no longer refines a safeText');
      describe(json, rule);
    },
  };
}

/** Object-level refinements, by the schema that carries them. */
const BY_HAND = new Map<core.$ZodType, ByHand>([
  [
    Labels,
    {
      refinements: 1,
      express: (json) => {
        json.maxProperties = 32;
        describe(json, 'At most 32 labels.');
      },
    },
  ],
  [
    ReportInput,
    {
      refinements: 2,
      express: (json) => {
        const needs = (status: string, field: string): JsonSchema => ({
          if: { properties: { status: { const: status } }, required: ['status'] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword
          then: { required: [field] },
        });
        json.allOf = [needs('failed', 'error'), needs('succeeded', 'firmwareVersion')];
        describe(json, 'A failed report needs error; a succeeded report needs firmwareVersion.');
      },
    },
  ],
  [
    Waves,
    {
      refinements: 2,
      express: (json) => {
        // Increasing cannot be said; "ends at 100" can only as "holds 100" (sound: the last one is).
        json.contains = { const: 100 };
        describe(json, 'Cumulative percentages, each greater than the one before; the last one is 100.');
      },
    },
  ],
  [
    RetryBackoff,
    {
      refinements: 1,
      express: (json) => describe(json, 'maxMs is at least baseMs.'),
    },
  ],
  [
    SelectorText,
    refinedText(
      'A label selector: comma-separated requirements key=value, key!=value, key in (a,b), key notin (a,b), key, !key (the key model matches the device model).',
    ),
  ],
  [
    WebhookEventPattern,
    {
      refinements: 1,
      express: (json) => {
        json.enum = [...WEBHOOK_WILDCARDS, ...WEBHOOK_EVENT_TYPES];
      },
    },
  ],
  [
    WebhookUrl,
    refinedText(
      'An http or https URL without user:password@ or #fragment. The pod refuses a host that resolves to a loopback, private or link-local address unless it is configured to allow it.',
    ),
  ],
]);

/** How many `.refine()`/`.superRefine()` the schema carries (a clone keeps its original's). */
function refinements(zodSchema: core.$ZodType): number {
  return (zodSchema._zod.def.checks ?? []).filter((check) => check._zod.def.check === 'custom').length;
}

function ancestors(zodSchema: core.$ZodType): core.$ZodType[] {
  const parent = zodSchema._zod.parent;
  return parent ? [parent, ...ancestors(parent)] : [];
}

/** What generation does with a refinement nobody expressed: fail, or say it in the description. */
export type Unexpressed = 'throw' | 'describe';

/** The messages of a schema's own refinements (a `.superRefine()` has none). */
function refinementMessages(zodSchema: core.$ZodType): string[] {
  return (zodSchema._zod.def.checks ?? [])
    .filter((check) => check._zod.def.check === 'custom')
    .map((check) => {
      const error: unknown = (check._zod.def as { error?: unknown }).error;
      let message: unknown = null;
      try {
        message = typeof error === 'function' ? error({ code: 'custom', input: undefined }) : null;
      } catch {
        // a message made from the value: none to show
      }
      if (message !== null && typeof message === 'object' && 'message' in message) message = message.message;
      return typeof message === 'string' && message !== '' ? message : 'a rule this schema does not state';
    });
}

function expressRefinements(
  file: string,
  zodSchema: core.$ZodType,
  json: JsonSchema,
  path: (string | number)[],
  unexpressed: Unexpressed,
) {
  const count = refinements(zodSchema);
  if (count === 0) return;
  const where = `${file} at ${path.join('/') || '(root)'}`;
  const byHand = BY_HAND.get(zodSchema);
  if (byHand?.refinements === count) return byHand.express(json, zodSchema);
  // `.refine().refine()`: the first is the parent of the second, whose rule covers both.
  if (!byHand && [...BY_HAND.keys()].some((refined) => ancestors(refined).includes(zodSchema))) return;
  // A text rule stands for one refinement: a second one beside it would go unsaid.
  if (!byHand && count === 1 && applyTextRule(zodSchema, json)) return;
  if (unexpressed === 'describe') {
    for (const message of refinementMessages(zodSchema))
      describe(json, `Also checked by the server: ${message}.`);
    return;
  }
  throw new Error(
    byHand
      ? `${where}: ${count} refinements, but json-schema.ts expresses ${byHand.refinements}`
      : `${where}: a .refine()/.superRefine() that JSON Schema cannot express; ` +
          'write it by hand in packages/contracts/src/json-schema.ts',
  );
}

/** Writes the text rule that judges strings as `zodSchema` does into `json`; false when none does. */
function applyTextRule(zodSchema: core.$ZodType, json: JsonSchema): boolean {
  const rule = json.type === 'string' ? textRuleOf(zodSchema, json) : null;
  if (!rule) return false;
  if (json.pattern === undefined || json.pattern === rule.pattern) json.pattern = rule.pattern;
  else if (!json.allOf?.some((part) => part.pattern === rule.pattern))
    json.allOf = [...(json.allOf ?? []), { pattern: rule.pattern }];
  describe(json, rule.description);
  return true;
}

export interface JsonSchemaOptions {
  /**
   * `input`: what a client sends, as the server accepts it (before defaults and transforms; extra
   * keys are ignored). `output`: what the server sends (closed: it sends no other keys).
   */
  readonly io: 'input' | 'output';
  /** Where the schema goes (a file, an operation), for the message when generation fails. */
  readonly where: string;
  /**
   * A refinement neither written by hand here nor a known text rule, or a type JSON Schema has
   * none for: `throw` (the default; the device protocol's files), or `describe` the refinement,
   * its message in the description, and accept anything for the type (the REST API's document,
   * which must not stop a pod over a new field nobody described yet).
   */
  readonly unexpressed?: Unexpressed;
}

/**
 * The JSON Schema of a zod schema, draft 2020-12, every part inline, refinements expressed (or, as
 * `unexpressed` says, generation fails naming `where`, or the description says them). Keys are in zod's order: pass the result to `canonical`.
 */
export function zodJsonSchema(
  schema: z.ZodType,
  { io, where, unexpressed = 'throw' }: JsonSchemaOptions,
): JsonSchema {
  return z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // Lenient documents say "anything" where zod has no JSON Schema (a date, a function).
    unrepresentable: unexpressed === 'throw' ? 'throw' : 'any',
    cycles: 'throw',
    reused: 'inline',
    override: ({ zodSchema, jsonSchema, path }) =>
      expressRefinements(where, zodSchema, jsonSchema, path, unexpressed),
  });
}

/** Keywords in this order (what a reader looks for first); any other after them, alphabetically. */
const LEADING = [
  '$schema',
  '$id',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'default',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'properties',
  'additionalProperties',
  'propertyNames',
  'required',
  'items',
  'prefixItems',
  'anyOf',
  'oneOf',
  'allOf',
  'if',
  'then',
  'else',
  'not',
];
/** Maps of names chosen in the source: their order stays (the source's, so stable). */
const NAMED = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas', 'dependentRequired']);
/** Values, not schemas: kept as they are. */
const VALUES = new Set(['const', 'enum', 'default', 'examples']);

function rank(key: string): number {
  const at = LEADING.indexOf(key);
  return at < 0 ? LEADING.length : at;
}

/** The schema with its keywords in a stable order (LEADING first). */
export function canonical(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(canonical);
  if (node === null || typeof node !== 'object') return node;
  const keys = Object.keys(node).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (node as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (VALUES.has(key)) out[key] = value;
    else if (NAMED.has(key) && value !== null && typeof value === 'object')
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, canonical(schema)]));
    else out[key] = canonical(value);
  }
  return out;
}

/** The text of a generated file: 2-space indent, a trailing newline. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
