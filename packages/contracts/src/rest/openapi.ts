/**
 * The OpenAPI 3.1 document of the REST API (docs/openapi.json; every pod serves it at
 * /api/v1/openapi.json): every operation of `restOperations()` — read from the router, its schemas
 * from the contracts' zod schemas through json-schema.ts — and the artifact upload. `pnpm openapi`
 * writes it; a test fails while the committed file differs.
 */
import type { z } from 'zod';
import { canonical, type JsonSchema, jsonText, zodJsonSchema } from '../json-schema.js';
import { Device } from '../routers/device.schema.js';
import { FleetEvent } from '../routers/events.schema.js';
import { Patch } from '../routers/patch.schema.js';
import { RolloutStatus } from '../routers/rollout.schema.js';
import { ARTIFACTS_PATH, ArtifactRefusal, ArtifactStored } from './artifacts.js';
import { RestError } from './errors.js';
import { objectFields, REST_BASE, type RestOperation, restOperations } from './routes.js';

export const OPENAPI_FILE = 'docs/openapi.json';
export const OPENAPI_PATH = `${REST_BASE}/openapi.json`;

type Json = JsonSchema | { $ref: string };

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, { schema?: Json }>;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  'x-camfleet-procedure'?: string;
  'x-camfleet-role': string;
  parameters?: OpenApiParameter[];
  requestBody?: { required: boolean; content: Record<string, { schema?: Json }> };
  responses: Record<string, OpenApiResponse | { $ref: string }>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: Array<{ name: string }>;
  security: Array<Record<string, string[]>>;
  paths: Record<string, Partial<Record<'get' | 'post' | 'put' | 'delete', OpenApiOperation>>>;
  components: {
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description: string }>;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, OpenApiResponse>;
  };
}

/** A schema for the document: its keywords in the canonical order, without `$schema`. */
function embedded(schema: z.ZodType, io: 'input' | 'output', where: string): JsonSchema {
  const { $schema: _dialect, ...rest } = zodJsonSchema(schema, { io, where, unexpressed: 'describe' });
  return canonical(rest) as JsonSchema;
}

function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

const json = (schema: Json) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** The error answers, by status: the same body, each with what it means here. */
const ERRORS = {
  BadRequest: ['400', 'The input is refused (`issues` says where), or the body is not JSON.'],
  Unauthorized: ['401', 'No token, or one that is unknown, expired or revoked.'],
  Forbidden: ['403', "The token's role may not do this (the message names the role needed)."],
  NotFound: ['404', 'What the input names does not exist.'],
  Conflict: ['409', 'The state forbids it (e.g. a patch name and version that exist, a finished rollout).'],
  PayloadTooLarge: ['413', 'The body is over 2 MiB.'],
  UnsupportedMediaType: ['415', 'The body is not `application/json`.'],
  TooManyRequests: [
    '429',
    'A limit (e.g. failed logins from this address): `limit` names it; see Retry-After.',
  ],
  Unavailable: ['503', 'The pod is draining or Redis is unreachable: try again, on any pod.'],
} as const satisfies Record<string, readonly [string, string]>;
type ErrorName = keyof typeof ERRORS;

const RETRY_AFTER = {
  description: 'Seconds to wait before trying again.',
  schema: { type: 'integer' },
} as const;

const NAMES_ID = /^(id|[a-z][A-Za-z0-9]*Id)$/;

function errorsOf(op: RestOperation): ErrorName[] {
  const { fields } = objectFields(op.inputSchema);
  const names: ErrorName[] = [];
  if (op.inputSchema) names.push('BadRequest');
  names.push('Unauthorized');
  if (op.role !== 'viewer') names.push('Forbidden');
  const namesOne = op.type === 'mutation' && Object.keys(fields).some((field) => NAMES_ID.test(field));
  if (op.pathParams.length || namesOne) names.push('NotFound');
  if (op.type === 'mutation') names.push('Conflict');
  if (op.inputSchema && op.inputFrom === 'body') names.push('PayloadTooLarge', 'UnsupportedMediaType');
  names.push('TooManyRequests', 'Unavailable');
  return names;
}

function parametersOf(op: RestOperation): OpenApiParameter[] {
  const { fields, required } = objectFields(op.inputSchema);
  const parameter = (name: string, where: 'path' | 'query'): OpenApiParameter => {
    const { description, ...schema } = fields[name] ?? {};
    return {
      name,
      in: where,
      required: where === 'path' || required.includes(name),
      ...(description ? { description } : {}),
      schema,
    };
  };
  const path = op.pathParams.map((name) => parameter(name, 'path'));
  const query =
    op.inputFrom === 'query'
      ? Object.keys(fields)
          .filter((name) => !op.pathParams.includes(name))
          .map((name) => parameter(name, 'query'))
      : [];
  return [...path, ...query];
}

/** The JSON body: the input without the fields the path carries; null when nothing is left. */
function bodyOf(op: RestOperation): { required: boolean; schema: JsonSchema } | null {
  if (op.inputFrom !== 'body' || !op.inputSchema) return null;
  const input = withoutDialect(op.inputSchema);
  if (input.type !== 'object') return { required: true, schema: input };
  const { fields, required } = objectFields(input);
  const properties = Object.fromEntries(
    Object.entries(fields).filter(([name]) => !op.pathParams.includes(name)),
  );
  if (Object.keys(properties).length === 0) return null;
  const left = required.filter((name) => !op.pathParams.includes(name));
  const { required: _all, properties: _fields, ...rest } = input;
  return {
    required: left.length > 0,
    schema: canonical({ ...rest, properties, ...(left.length ? { required: left } : {}) }) as JsonSchema,
  };
}

function operationOf(op: RestOperation): OpenApiOperation {
  const parameters = parametersOf(op);
  const body = bodyOf(op);
  const audited = op.type === 'mutation' ? ' Audited, allowed or refused.' : '';
  const derived = op.derived ? ' Its path is derived from the procedure name.' : '';
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: `Role: ${op.role} or above.${audited} The tRPC procedure \`${op.procedure}\` (${op.type}).${derived}`,
    tags: [op.tag],
    'x-camfleet-procedure': op.procedure,
    'x-camfleet-role': op.role,
    ...(parameters.length ? { parameters } : {}),
    ...(body ? { requestBody: { required: body.required, content: json(body.schema) } } : {}),
    responses: {
      [String(op.status)]: {
        description: op.status === 201 ? 'Created.' : 'OK.',
        content: json(op.outputSchema ? withoutDialect(op.outputSchema) : {}),
      },
      ...Object.fromEntries(errorsOf(op).map((name) => [ERRORS[name][0], ref(name)])),
      default: {
        description: 'An unexpected failure.',
        content: json({ $ref: '#/components/schemas/Error' }),
      },
    },
  };
}

function artifactUpload(): OpenApiOperation {
  const stored = json(embedded(ArtifactStored, 'output', 'PUT /artifacts'));
  const refusal = (description: string): OpenApiResponse => ({
    description,
    content: json(embedded(ArtifactRefusal, 'output', 'PUT /artifacts')),
  });
  return {
    operationId: 'artifactUpload',
    summary: 'Upload an artifact: the bytes a patch installs',
    description:
      'Role: operator or above. Audited as `artifacts.upload`. Streams the body to storage under its SHA-256 ' +
      '(content-addressed: the same bytes again store nothing new); then publish a patch with ' +
      '`POST /api/v1/patches` and the answer as its `artifact`. Not under /api/v1: devices download from ' +
      '`/artifacts/{sha256}`.',
    tags: ['artifacts'],
    'x-camfleet-role': 'operator',
    parameters: [
      {
        name: 'X-Content-SHA256',
        in: 'header',
        required: false,
        description: 'The digest the body must have: otherwise 422 and nothing is stored.',
        schema: { type: 'string', pattern: '^[A-Fa-f0-9]{64}$' },
      },
    ],
    requestBody: { required: true, content: { 'application/octet-stream': {} } },
    responses: {
      '201': { description: 'Stored.', content: stored },
      '200': { description: 'Already stored: the same bytes were uploaded before.', content: stored },
      '400': refusal('X-Content-SHA256 is not 64 hex digits.'),
      '401': refusal('No token, or one that is unknown, expired or revoked.'),
      '403': refusal("The token's role is below operator."),
      '413': refusal('Over the pod’s FLEET_ARTIFACT_MAX_BYTES.'),
      '415': refusal('A Content-Encoding: send the artifact as it is.'),
      '422': refusal('The body’s digest is not the one in X-Content-SHA256.'),
      '429': refusal('Too many failed logins from this address: see Retry-After.'),
    },
  };
}

/**
 * Schemas many answers hold, named once in `components.schemas` and referred to: wherever one
 * appears whole, it becomes a `$ref` (names only; what they hold is still generated).
 */
const NAMED: ReadonlyArray<readonly [string, z.ZodType]> = [
  ['RolloutStatus', RolloutStatus],
  ['Patch', Patch],
  ['Device', Device],
  ['FleetEvent', FleetEvent],
  ['ArtifactStored', ArtifactStored],
  ['ArtifactRefusal', ArtifactRefusal],
];

/** `node` with every whole occurrence of a named schema replaced by its `$ref`. */
function referring(node: unknown, named: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(node)) return node.map((item) => referring(item, named));
  if (node === null || typeof node !== 'object') return node;
  const name = named.get(JSON.stringify(node));
  if (name) return { $ref: `#/components/schemas/${name}` };
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, referring(value, named)]));
}

/** The document: operations in the router's order, the artifact upload last. */
export function openApiDocument(operations: readonly RestOperation[] = restOperations()): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const op of operations) {
    const path = `${REST_BASE}${op.path}`;
    paths[path] = { ...paths[path], [op.method.toLowerCase()]: operationOf(op) };
  }
  paths[ARTIFACTS_PATH] = { put: artifactUpload() };
  const schemas = Object.fromEntries(NAMED.map(([name, schema]) => [name, embedded(schema, 'output', name)]));
  const named = new Map(Object.entries(schemas).map(([name, schema]) => [JSON.stringify(schema), name]));
  const tags = [...new Set([...operations.map((op) => op.tag), 'artifacts'])];
  return {
    openapi: '3.1.0',
    info: {
      title: 'camfleet admin API',
      version: '1',
      description:
        'What an operator does with `fleet`, as plain JSON over HTTP: the same tokens, roles and audit ' +
        "as the CLI's tRPC calls, which these operations make. GET and DELETE take their input from the " +
        'query string, POST from a JSON body; path parameters are input fields too. Errors are ' +
        '`{error, code, fleetCode, issues?, limit?}`. See docs/rest-api.md.',
    },
    tags: tags.map((name) => ({ name })),
    security: [{ bearerAuth: [] }],
    paths: referring(paths, named) as OpenApiDocument['paths'],
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An admin token (FLEET_ADMIN_TOKEN, one of FLEET_ADMIN_TOKENS_FILE, or one issued by ' +
            '`POST /api/v1/tokens`). Its role — viewer < operator < admin — decides what it may call.',
        },
      },
      schemas: { Error: embedded(RestError, 'output', 'the REST error'), ...schemas },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([name, [status, description]]) => [
          name,
          {
            description,
            ...(status === '429' ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
            content: json({ $ref: '#/components/schemas/Error' }),
          },
        ]),
      ),
    },
  };
}

/** The document's text, as committed (docs/openapi.json) and served. */
export function openApiText(): string {
  return jsonText(openApiDocument());
}
