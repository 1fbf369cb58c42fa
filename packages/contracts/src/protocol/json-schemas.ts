/**
 * The JSON Schema files of device protocol 1 (docs/device-protocol/schemas), generated from the
 * zod schemas the server validates with (`pnpm protocol:schemas` writes them; a test fails when
 * the committed files differ). A refinement zod cannot translate is written here by hand and
 * checked against zod: generation fails on one nobody wrote down, so a schema never accepts
 * quietly what the server refuses.
 */
import { type core, z } from 'zod';
import { DeviceCredential } from '../routers/access.schema.js';
import {
  Device,
  DeviceEvent,
  OffersInput,
  RegisterInput,
  ReportInput,
  ReportResult,
} from '../routers/device.schema.js';
import { Labels } from '../schemas.js';
import {
  ClientFrame,
  ConnectionParamsMessage,
  EnrollRequest,
  EnrollResponse,
  ErrorResponse,
  OffersEvent,
  OffersRequest,
  Ping,
  Pong,
  ReconnectNotice,
  RegisterRequest,
  RegisterResponse,
  ReportRequest,
  ReportResponse,
  RequestBatch,
  ServerFrame,
  SubscriptionStarted,
  SubscriptionStop,
  SubscriptionStopped,
  WireError,
} from './frames.js';

export const PROTOCOL_VERSION = 1;
export const SCHEMA_BASE_URI = `https://camfleet.dev/device-protocol/${PROTOCOL_VERSION}/`;

export interface ProtocolSchema {
  /** The file is `<name>.schema.json`. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly schema: z.ZodType;
  /**
   * `input`: what a device sends, as the server accepts it (before defaults and transforms; extra
   * keys are ignored). `output`: what the server sends (closed: it sends no other keys).
   */
  readonly io: 'input' | 'output';
}

const SENT = 'Sent by the device.';
const RECEIVED =
  'Sent by the server. Closed: version 1 sends no other keys, but a client should ignore keys it does not know.';

export const PROTOCOL_SCHEMAS = [
  // Values inside the envelope
  {
    name: 'register-input',
    title: 'device.register input',
    description: 'What a device says it is and runs, on every connection.',
    schema: RegisterInput,
    io: 'input',
  },
  {
    name: 'device',
    title: 'device.register output: Device',
    description: 'The device as the server records it.',
    schema: Device,
    io: 'output',
  },
  {
    name: 'offers-input',
    title: 'device.offers input',
    description: 'Subscribes to offers and cancel requests; lastEventId resumes after that event.',
    schema: OffersInput,
    io: 'input',
  },
  {
    name: 'device-event',
    title: 'device.offers event: DeviceEvent',
    description: 'An offer to install, or a request to stop working on one.',
    schema: DeviceEvent,
    io: 'output',
  },
  {
    name: 'report-input',
    title: 'device.report input',
    description: 'How an attempt is going: progress, or its outcome.',
    schema: ReportInput,
    io: 'input',
  },
  {
    name: 'report-result',
    title: 'device.report output: ReportResult',
    description: "The delivery's state after the report; duplicate when it repeated one already applied.",
    schema: ReportResult,
    io: 'output',
  },
  {
    name: 'device-credential',
    title: 'device.enroll output: DeviceCredential',
    description: "The device's own secret, shown this once.",
    schema: DeviceCredential,
    io: 'output',
  },
  {
    name: 'wire-error',
    title: 'Error',
    description: 'An error as the server formats it, inside the envelope of an error frame.',
    schema: WireError,
    io: 'output',
  },
  // Device → server
  {
    name: 'connection-params',
    title: 'connectionParams message',
    description: `${SENT} The first frame on the socket: the credentials (a device secret, or an enrollment token).`,
    schema: ConnectionParamsMessage,
    io: 'input',
  },
  {
    name: 'register-request',
    title: 'device.register request',
    description: SENT,
    schema: RegisterRequest,
    io: 'input',
  },
  {
    name: 'offers-request',
    title: 'device.offers subscribe request',
    description: SENT,
    schema: OffersRequest,
    io: 'input',
  },
  {
    name: 'report-request',
    title: 'device.report request',
    description: SENT,
    schema: ReportRequest,
    io: 'input',
  },
  {
    name: 'enroll-request',
    title: 'device.enroll request',
    description: `${SENT} Only on a connection opened with an enrollment token.`,
    schema: EnrollRequest,
    io: 'input',
  },
  {
    name: 'subscription-stop',
    title: 'subscription.stop',
    description: `${SENT} Ends the subscription with this id.`,
    schema: SubscriptionStop,
    io: 'input',
  },
  {
    name: 'request-batch',
    title: 'Batch of requests',
    description: `${SENT} Several requests in one frame, as tRPC clients send them; each is answered apart.`,
    schema: RequestBatch,
    io: 'input',
  },
  {
    name: 'client-frame',
    title: 'Any frame a device sends',
    description: `${SENT} Any of the JSON frames above (the keepalive text frames aside).`,
    schema: ClientFrame,
    io: 'input',
  },
  // Keepalive, both ways
  {
    name: 'ping',
    title: 'PING',
    description:
      'Keepalive, sent by either side after a quiet while: a text frame, not JSON, whose text is PING.',
    schema: Ping,
    io: 'output',
  },
  {
    name: 'pong',
    title: 'PONG',
    description: 'The answer to PING, from either side: a text frame, not JSON, whose text is PONG.',
    schema: Pong,
    io: 'output',
  },
  // Server → device
  {
    name: 'register-response',
    title: 'device.register result',
    description: RECEIVED,
    schema: RegisterResponse,
    io: 'output',
  },
  {
    name: 'report-response',
    title: 'device.report result',
    description: RECEIVED,
    schema: ReportResponse,
    io: 'output',
  },
  {
    name: 'enroll-response',
    title: 'device.enroll result',
    description: RECEIVED,
    schema: EnrollResponse,
    io: 'output',
  },
  {
    name: 'subscription-started',
    title: 'Subscription started',
    description: `${RECEIVED} The subscription is open; its events follow.`,
    schema: SubscriptionStarted,
    io: 'output',
  },
  {
    name: 'offers-event',
    title: 'device.offers event',
    description: `${RECEIVED} One event of the subscription, its id in result.id and again in json.id.`,
    schema: OffersEvent,
    io: 'output',
  },
  {
    name: 'subscription-stopped',
    title: 'Subscription stopped',
    description: `${RECEIVED} The subscription ended (stopped by the client, or after its error).`,
    schema: SubscriptionStopped,
    io: 'output',
  },
  {
    name: 'error-response',
    title: 'Error frame',
    description: `${RECEIVED} A failed request (its id), or an error of the connection itself (id null).`,
    schema: ErrorResponse,
    io: 'output',
  },
  {
    name: 'reconnect-notice',
    title: 'Reconnect notice',
    description: `${RECEIVED} The pod is about to drain: connect again, to another pod.`,
    schema: ReconnectNotice,
    io: 'output',
  },
  {
    name: 'server-frame',
    title: 'Any frame the server sends',
    description: `${RECEIVED} Any of the JSON frames above (the keepalive text frames aside).`,
    schema: ServerFrame,
    io: 'output',
  },
] as const satisfies readonly ProtocolSchema[];

export type ProtocolSchemaName = (typeof PROTOCOL_SCHEMAS)[number]['name'];

export function schemaFileName(name: string): string {
  return `${name}.schema.json`;
}

export function schemaUri(name: string): string {
  return `${SCHEMA_BASE_URI}${schemaFileName(name)}`;
}

type JsonSchema = core.JSONSchema.BaseSchema;

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
  readonly express: (json: JsonSchema) => void;
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
]);

/** How many `.refine()`/`.superRefine()` the schema carries (a clone keeps its original's). */
function refinements(zodSchema: core.$ZodType): number {
  return (zodSchema._zod.def.checks ?? []).filter((check) => check._zod.def.check === 'custom').length;
}

function ancestors(zodSchema: core.$ZodType): core.$ZodType[] {
  const parent = zodSchema._zod.parent;
  return parent ? [parent, ...ancestors(parent)] : [];
}

function expressRefinements(
  file: string,
  zodSchema: core.$ZodType,
  json: JsonSchema,
  path: (string | number)[],
) {
  const count = refinements(zodSchema);
  if (count === 0) return;
  const where = `${file} at ${path.join('/') || '(root)'}`;
  const byHand = BY_HAND.get(zodSchema);
  if (byHand?.refinements === count) return byHand.express(json);
  if (byHand)
    throw new Error(`${where}: ${count} refinements, but json-schemas.ts expresses ${byHand.refinements}`);
  // `.refine().refine()`: the first is the parent of the second, whose rule covers both.
  if ([...BY_HAND.keys()].some((refined) => ancestors(refined).includes(zodSchema))) return;
  // A text rule stands for one refinement: a second one beside it would go unsaid.
  const rule = json.type === 'string' && count === 1 ? textRuleOf(zodSchema, json) : null;
  if (!rule)
    throw new Error(
      `${where}: a .refine()/.superRefine() that JSON Schema cannot express; ` +
        'write it by hand in packages/contracts/src/protocol/json-schemas.ts',
    );
  if (json.pattern === undefined || json.pattern === rule.pattern) json.pattern = rule.pattern;
  else if (!json.allOf?.some((part) => part.pattern === rule.pattern))
    json.allOf = [...(json.allOf ?? []), { pattern: rule.pattern }];
  describe(json, rule.description);
}

/** The JSON Schema of one protocol file, keys in a stable order. */
export function protocolJsonSchema(entry: ProtocolSchema): JsonSchema {
  const file = schemaFileName(entry.name);
  const generated = z.toJSONSchema(entry.schema, {
    target: 'draft-2020-12',
    io: entry.io,
    unrepresentable: 'throw',
    cycles: 'throw',
    reused: 'inline',
    override: ({ zodSchema, jsonSchema, path }) => expressRefinements(file, zodSchema, jsonSchema, path),
  });
  const { $schema, description, ...rest } = generated;
  return canonical({
    $schema,
    $id: schemaUri(entry.name),
    title: entry.title,
    description: description ? `${entry.description} ${description}` : entry.description,
    ...rest,
  }) as JsonSchema;
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

function canonical(node: unknown): unknown {
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

/** Every schema file: file name → its text. */
export function protocolSchemaFiles(): Map<string, string> {
  return new Map(
    PROTOCOL_SCHEMAS.map((entry) => [schemaFileName(entry.name), jsonText(protocolJsonSchema(entry))]),
  );
}
