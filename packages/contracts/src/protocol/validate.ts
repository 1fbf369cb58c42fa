/**
 * For tests: the committed JSON Schema files of device protocol 1 (docs/device-protocol/schemas)
 * in an ajv instance, so a test checks frames against what device makers are given, not against
 * the zod schemas they were generated from. Node only (reads files); not exported from the
 * package index.
 *
 *   const schemas = loadProtocolSchemas();
 *   for (const text of device.texts) schemas.checkServerText(text);
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { SCHEMAS_FOLDER } from './asyncapi.js';
import { PROTOCOL_SCHEMAS, type ProtocolSchemaName, schemaFileName, schemaUri } from './json-schemas.js';

/** docs/device-protocol in this checkout. */
export const PROTOCOL_DOCS_DIR = fileURLToPath(new URL('../../../../docs/device-protocol/', import.meta.url));

/** The frames a server sends, each on its own: to name the closest when a frame fits none. */
const SERVER_FRAMES: readonly ProtocolSchemaName[] = [
  'register-response',
  'report-response',
  'artifact-url-response',
  'enroll-response',
  'subscription-started',
  'offers-event',
  'subscription-stopped',
  'error-response',
  'reconnect-notice',
];
const CLIENT_FRAMES: readonly ProtocolSchemaName[] = [
  'connection-params',
  'register-request',
  'offers-request',
  'report-request',
  'artifact-url-request',
  'enroll-request',
  'subscription-stop',
  'request-batch',
];

export interface ProtocolSchemas {
  /** Every committed schema, by its `$id`. */
  readonly ajv: Ajv2020;
  /** What is wrong with `value` under the committed `<name>.schema.json`, or null when it passes. */
  problems(name: ProtocolSchemaName, value: unknown): string | null;
  /** Throws, naming the schema and what is wrong, unless `value` passes. */
  check(name: ProtocolSchemaName, value: unknown): void;
  /** A text frame a server sent: PING, PONG, or JSON that server-frame.schema.json accepts. Throws otherwise. */
  checkServerText(text: string): void;
  /** A text frame a device sent: PING, PONG, or JSON that client-frame.schema.json accepts. Throws otherwise. */
  checkClientText(text: string): void;
}

/** Loads the schema files of `dir`/schemas (default: the committed ones) into one ajv instance. */
export function loadProtocolSchemas(dir: string = PROTOCOL_DOCS_DIR): ProtocolSchemas {
  // Strict, except for two things these schemas mean to do: `type` arrays, and if/then that
  // requires a property the enclosing schema defines.
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, strictRequired: false });
  const folder = join(dir, SCHEMAS_FOLDER);
  for (const { name } of PROTOCOL_SCHEMAS) {
    const file = join(folder, schemaFileName(name));
    try {
      ajv.addSchema(JSON.parse(readFileSync(file, 'utf8')) as object);
    } catch (error) {
      throw new Error(`${file}: ${String(error)} (run \`pnpm protocol:schemas\`)`);
    }
  }

  const validator = (name: ProtocolSchemaName): ValidateFunction => {
    const validate = ajv.getSchema(schemaUri(name));
    if (!validate) throw new Error(`${name}.schema.json is not in ${folder}`);
    return validate;
  };
  const problems = (name: ProtocolSchemaName, value: unknown): string | null => {
    const validate = validator(name);
    return validate(value) ? null : ajv.errorsText(validate.errors, { dataVar: 'frame', separator: '; ' });
  };
  const check = (name: ProtocolSchemaName, value: unknown): void => {
    const problem = problems(name, value);
    if (problem !== null)
      throw new Error(`not a valid ${name} (${name}.schema.json): ${problem}\n${show(value)}`);
  };
  const checkText = (text: string, any: ProtocolSchemaName, each: readonly ProtocolSchemaName[]): void => {
    if (text === 'PING' || text === 'PONG') return;
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      throw new Error(`a frame that is neither JSON nor PING/PONG: ${show(text)}`);
    }
    if (problems(any, frame) === null) return;
    // anyOf's errors list every branch; the one whose errors lie deepest matched the frame's shape.
    const closest = each
      .map((name) => {
        const problem = problems(name, frame) ?? '';
        const errors = validator(name).errors ?? [];
        const depth = Math.min(...errors.map((error) => error.instancePath.split('/').length));
        return { name, problem, depth, count: errors.length };
      })
      .sort((a, b) => b.depth - a.depth || a.count - b.count)[0];
    throw new Error(
      `a frame that ${any}.schema.json refuses; closest: ${closest?.name}: ${closest?.problem}\n${show(text)}`,
    );
  };
  return {
    ajv,
    problems,
    check,
    checkServerText: (text) => checkText(text, 'server-frame', SERVER_FRAMES),
    checkClientText: (text) => checkText(text, 'client-frame', CLIENT_FRAMES),
  };
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}
