/**
 * Where each admin procedure sits in the REST API (`/api/v1`): one table, beside the router. The
 * operations themselves are read from the router — which procedures exist, their role, input and
 * output — so a procedure nobody added here is still served, at a path derived from its name
 * (`webhooks.create` → `POST /api/v1/webhooks`), and a new input field is a new parameter.
 */
import type { AnyProcedure, AnyRouter } from '@trpc/server';
import { z } from 'zod';
import { canonical, type JsonSchema, zodJsonSchema } from '../json-schema.js';
import { ADMIN_ROLES, type AdminRole } from '../roles.js';
import { appRouter } from '../router.js';

/** Every path of the API starts here. */
export const REST_BASE = '/api/v1';

export type RestMethod = 'GET' | 'POST' | 'DELETE';

export interface RestRoute {
  readonly method: RestMethod;
  /** Under REST_BASE, OpenAPI style: `/rollouts/{rolloutId}`; each `{name}` is a field of the input. */
  readonly path: string;
  readonly summary: string;
  /** 201 for a call that creates something; 200 otherwise. */
  readonly status?: 201;
}

/**
 * The routes, by procedure. GET and DELETE take the rest of the input from the query string, POST
 * from a JSON body; path parameters are input fields too.
 */
export const REST_ROUTES: Readonly<Record<string, RestRoute>> = {
  'patch.publish': {
    method: 'POST',
    path: '/patches',
    summary: 'Publish a patch (upload its artifact first with PUT /artifacts)',
    status: 201,
  },
  'patch.list': { method: 'GET', path: '/patches', summary: 'List patches, newest first' },
  'patch.get': {
    method: 'GET',
    path: '/patches/{patchId}',
    summary: 'A patch, where its bytes are and which rollouts use it',
  },
  'patch.delete': {
    method: 'DELETE',
    path: '/patches/{patchId}',
    summary: 'Delete a patch (refused while a live rollout uses it)',
  },
  'patch.createDelta': {
    method: 'POST',
    path: '/patches/{patchId}/deltas',
    summary:
      "Make a binary delta from an earlier version's artifact (offered by rollouts created afterwards)",
    status: 201,
  },
  'rollout.create': { method: 'POST', path: '/rollouts', summary: 'Start a rollout', status: 201 },
  'rollout.list': {
    method: 'GET',
    path: '/rollouts',
    summary: 'List rollouts with their status, newest first',
  },
  'rollout.preview': {
    method: 'POST',
    path: '/rollouts/preview',
    summary:
      'What a target would name now: devices matched, online, their firmware, a sample (nothing is stored)',
  },
  'rollout.get': {
    method: 'GET',
    path: '/rollouts/{rolloutId}',
    summary: "A rollout's status: counts, waves, the gate holding it",
  },
  'rollout.history': {
    method: 'GET',
    path: '/rollouts/{rolloutId}/history',
    summary: "A rollout's counts over time, as the server recorded them",
  },
  'rollout.pause': { method: 'POST', path: '/rollouts/{rolloutId}/pause', summary: 'Pause a rollout' },
  'rollout.resume': {
    method: 'POST',
    path: '/rollouts/{rolloutId}/resume',
    summary: 'Resume a paused rollout',
  },
  'rollout.advance': {
    method: 'POST',
    path: '/rollouts/{rolloutId}/advance',
    summary: 'Open the next wave now, whatever its gate',
  },
  'rollout.cancel': {
    method: 'POST',
    path: '/rollouts/{rolloutId}/cancel',
    summary: 'Cancel a rollout: queued deliveries at once, running ones asked to stop',
  },
  'devices.list': {
    method: 'GET',
    path: '/devices',
    summary: 'List devices a page at a time, filtered by a label selector and presence',
  },
  'devices.get': {
    method: 'GET',
    path: '/devices/{deviceId}',
    summary: 'A device with its deliveries and history',
  },
  'devices.checkIds': {
    method: 'GET',
    path: '/checks/device-ids',
    summary: "Stored device ids that break today's id rule",
  },
  'devices.credentials.provision': {
    method: 'POST',
    path: '/devices/{deviceId}/credentials',
    summary: 'Provision a device: its secret, shown this once',
    status: 201,
  },
  'devices.credentials.provisionMany': {
    method: 'POST',
    path: '/devices/credentials',
    summary:
      'Provision up to 1,000 devices: the new ones with their secrets (shown this once), the ids that had a credential (left as they were)',
  },
  'devices.credentials.rotate': {
    method: 'POST',
    path: '/devices/{deviceId}/credentials/rotate',
    summary: 'Issue a device a new secret (the old one stops working), shown this once',
  },
  'devices.credentials.revoke': {
    method: 'POST',
    path: '/devices/{deviceId}/credentials/revoke',
    summary: 'Refuse a device from now on and close its connection',
  },
  'fleet.stats': { method: 'GET', path: '/fleet/stats', summary: 'Devices, devices online, pods' },
  'fleet.overview': {
    method: 'GET',
    path: '/fleet/overview',
    summary: 'Devices and devices online in all, per model, per firmware and per pod, from one read',
  },
  'events.list': {
    method: 'GET',
    path: '/events',
    summary: 'Rollout and delivery events, oldest first: the newest, or those after an event id',
  },
  'tokens.whoami': { method: 'GET', path: '/whoami', summary: 'The name and role of the presented token' },
  'tokens.create': {
    method: 'POST',
    path: '/tokens',
    summary: 'Issue an admin token, shown this once',
    status: 201,
  },
  'tokens.list': { method: 'GET', path: '/tokens', summary: 'Admin tokens issued at runtime' },
  'tokens.revoke': { method: 'POST', path: '/tokens/{id}/revoke', summary: 'Revoke an admin token' },
  'enrollTokens.create': {
    method: 'POST',
    path: '/enroll-tokens',
    summary: 'Issue an enrollment token, shown this once',
    status: 201,
  },
  'enrollTokens.list': {
    method: 'GET',
    path: '/enroll-tokens',
    summary: 'Enrollment tokens issued at runtime',
  },
  'enrollTokens.revoke': {
    method: 'POST',
    path: '/enroll-tokens/{id}/revoke',
    summary: 'Revoke an enrollment token',
  },
  'webhooks.create': {
    method: 'POST',
    path: '/webhooks',
    summary: 'Add a webhook endpoint; its signing secret is shown this once',
    status: 201,
  },
  'webhooks.list': {
    method: 'GET',
    path: '/webhooks',
    summary: 'Webhook endpoints, with their delivery figures',
  },
  'webhooks.get': { method: 'GET', path: '/webhooks/{id}', summary: 'A webhook endpoint' },
  'webhooks.delete': { method: 'DELETE', path: '/webhooks/{id}', summary: 'Remove a webhook endpoint' },
  'webhooks.enable': {
    method: 'POST',
    path: '/webhooks/{id}/enable',
    summary: 'Enable an endpoint again (after it was disabled for failing)',
  },
  'webhooks.deliveries': {
    method: 'GET',
    path: '/webhooks/{id}/deliveries',
    summary: "An endpoint's delivery log",
  },
  'webhooks.test': {
    method: 'POST',
    path: '/webhooks/{id}/test',
    summary: 'Send the endpoint a ping now (not queued, not retried)',
  },
  'audit.list': {
    method: 'GET',
    path: '/audit',
    summary: 'The newest entries of the audit log, oldest first',
  },
};

/** One REST operation: a route and the procedure it calls, as the router defines it. */
export interface RestOperation extends Required<Omit<RestRoute, 'status'>> {
  /** The tRPC procedure (`rollout.create`). */
  readonly procedure: string;
  readonly type: 'query' | 'mutation';
  readonly role: AdminRole;
  readonly status: 200 | 201;
  /** `rolloutCreate`. */
  readonly operationId: string;
  /** The procedure's first segment (`rollout`). */
  readonly tag: string;
  /** Placed by the convention, not by REST_ROUTES. */
  readonly derived: boolean;
  /** Input fields named in the path, in order. */
  readonly pathParams: readonly string[];
  /** Where the input's other fields come from. */
  readonly inputFrom: 'query' | 'body';
  readonly input: z.ZodType | null;
  readonly output: z.ZodType | null;
  /** The input as the client sends it (`io: input`), or null for a procedure without input. */
  readonly inputSchema: JsonSchema | null;
  /** The answer (`io: output`, closed), or null for a procedure without `.output()`. */
  readonly outputSchema: JsonSchema | null;
}

function isProcedure(value: unknown): value is AnyProcedure {
  return typeof value === 'function' && '_def' in value && (value as AnyProcedure)._def.procedure === true;
}

/** Every procedure of a router, with its dotted path, in the router's order. */
function procedures(record: AnyRouter['_def']['record'], prefix = ''): Array<[string, AnyProcedure]> {
  return Object.entries(record).flatMap(([name, value]): Array<[string, AnyProcedure]> => {
    const path = `${prefix}${name}`;
    if (isProcedure(value)) return [[path, value]];
    if (value !== null && typeof value === 'object')
      return procedures(value as AnyRouter['_def']['record'], `${path}.`);
    return [];
  });
}

function roleOf(procedure: AnyProcedure): AdminRole | null {
  const meta: unknown = procedure._def.meta;
  const role = meta !== null && typeof meta === 'object' && 'role' in meta ? meta.role : null;
  return (ADMIN_ROLES as readonly unknown[]).includes(role) ? (role as AdminRole) : null;
}

function zodOf(path: string, what: string, parser: unknown): z.ZodType | null {
  if (parser === undefined) return null;
  if (parser instanceof z.ZodType) return parser;
  throw new Error(`${path}: its ${what} is not a zod schema; the REST API documents zod schemas only`);
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (path: string) =>
  path
    .split('.')
    .map((part, i) => (i === 0 ? part : `${part.charAt(0).toUpperCase()}${part.slice(1)}`))
    .join('');

/** The input's top-level fields and which of them are required, when it is an object. */
export function objectFields(schema: JsonSchema | null): {
  fields: Record<string, JsonSchema>;
  required: string[];
} {
  if (schema?.type !== 'object') return { fields: {}, required: [] };
  const fields: Record<string, JsonSchema> = {};
  for (const [name, field] of Object.entries(schema.properties ?? {}))
    if (typeof field === 'object') fields[name] = field;
  return { fields, required: schema.required ?? [] };
}

const SCALARS = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/** The JSON types a field may have (`anyOf` of types, as zod writes nullable fields, included). */
export function typesOf(schema: JsonSchema): string[] {
  const own: string[] =
    schema.type === undefined ? [] : Array.isArray(schema.type) ? [...schema.type] : [schema.type];
  const alternatives = (schema.anyOf ?? schema.oneOf ?? []).flatMap((part) =>
    typeof part === 'object' ? typesOf(part) : [],
  );
  if (schema.enum) own.push(...new Set(schema.enum.map((value) => (value === null ? 'null' : typeof value))));
  if (schema.const !== undefined) own.push(schema.const === null ? 'null' : typeof schema.const);
  return [...own, ...alternatives];
}

/** A field a query string can carry: a scalar, or an array of scalars (the parameter repeated). */
function fitsQuery(field: JsonSchema): boolean {
  const types = typesOf(field);
  if (types.length === 0) return false;
  return types.every((type) => {
    if (SCALARS.has(type)) return true;
    if (type !== 'array' || typeof field.items !== 'object' || Array.isArray(field.items)) return false;
    const items = typesOf(field.items);
    return items.length > 0 && items.every((item) => SCALARS.has(item));
  });
}

/**
 * The route of a procedure REST_ROUTES does not name: `<router>/<name>` in kebab case, `list` and
 * `get` as GET, `create` as POST (201), `delete` as DELETE, any other query as GET and mutation as
 * POST; the one required `id`/`…Id` field of the input goes in the path (but for list and create).
 * A query whose input cannot travel in a query string is a POST.
 */
function derivedRoute(path: string, type: 'query' | 'mutation', input: JsonSchema | null): RestRoute {
  const segments = path.split('.');
  const name = segments.pop() ?? path;
  const base = `/${segments.map(kebab).join('/')}`;
  const { fields, required } = objectFields(input);
  const ids = required.filter((field) => field === 'id' || /^[a-z][A-Za-z0-9]*Id$/.test(field));
  const id = ids.length === 1 && name !== 'list' && name !== 'create' ? `/{${ids[0]}}` : '';
  const summary = `${path} (no summary in packages/contracts/src/rest/routes.ts yet)`;
  const flat = Object.entries(fields).every(([field, schema]) => `/{${field}}` === id || fitsQuery(schema));
  if (name === 'create') return { method: 'POST', path: base, summary, status: 201 };
  if (name === 'delete') return { method: 'DELETE', path: `${base}${id}`, summary };
  if (type === 'query' && (name === 'list' || name === 'get'))
    return { method: flat ? 'GET' : 'POST', path: `${base}${id}`, summary };
  return { method: type === 'query' && flat ? 'GET' : 'POST', path: `${base}${id}/${kebab(name)}`, summary };
}

function operationOf(
  path: string,
  procedure: AnyProcedure,
  role: AdminRole,
  listed: RestRoute | undefined,
): RestOperation {
  const type = procedure._def.type;
  if (type === 'subscription') throw new Error(`${path}: a subscription has no REST operation`);
  if (procedure._def.inputs.length > 1) throw new Error(`${path}: more than one .input() is not supported`);
  const input = zodOf(path, 'input', procedure._def.inputs[0]);
  const output = zodOf(path, 'output', (procedure._def as { output?: unknown }).output);
  const where = `REST operation ${path}`;
  const options = { where, unexpressed: 'describe' } as const;
  const inputSchema = input
    ? (canonical(zodJsonSchema(input, { ...options, io: 'input' })) as JsonSchema)
    : null;
  const outputSchema = output
    ? (canonical(zodJsonSchema(output, { ...options, io: 'output' })) as JsonSchema)
    : null;
  const route = listed ?? derivedRoute(path, type, inputSchema);
  const pathParams = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '');
  const { fields, required } = objectFields(inputSchema);
  for (const param of pathParams)
    if (!required.includes(param))
      throw new Error(`${where}: path parameter {${param}} is no required input field`);
  const inputFrom = route.method === 'POST' ? 'body' : 'query';
  if (inputFrom === 'query') {
    if (inputSchema && inputSchema.type !== 'object')
      throw new Error(`${where}: ${route.method} needs an object input (its fields become query parameters)`);
    const nested = Object.keys(fields).filter(
      (field) => !pathParams.includes(field) && !fitsQuery(fields[field] ?? {}),
    );
    if (nested.length)
      throw new Error(`${where}: ${nested.join(', ')} cannot travel in a query string; use POST`);
  }
  if (type === 'mutation' && route.method === 'GET') throw new Error(`${where}: a mutation cannot be a GET`);
  return {
    procedure: path,
    type,
    role,
    method: route.method,
    path: route.path,
    summary: route.summary,
    status: route.status ?? 200,
    operationId: camel(path),
    tag: path.split('.')[0] ?? path,
    derived: !listed,
    pathParams,
    inputFrom,
    input,
    output,
    inputSchema,
    outputSchema,
  };
}

/**
 * The REST operations of a router: every query and mutation of an admin procedure (those with a
 * role: not the device's, not subscriptions). Throws when REST_ROUTES names a procedure the router
 * lacks or two operations share a method and path.
 */
export function restOperationsOf(
  router: AnyRouter,
  routes: Readonly<Record<string, RestRoute>> = REST_ROUTES,
) {
  const all = procedures(router._def.record);
  const known = new Set(all.map(([path]) => path));
  for (const path of Object.keys(routes))
    if (!known.has(path)) throw new Error(`REST_ROUTES names ${path}, which the router does not have`);
  const operations = all.flatMap(([path, procedure]) => {
    const role = roleOf(procedure);
    return role && procedure._def.type !== 'subscription'
      ? [operationOf(path, procedure, role, routes[path])]
      : [];
  });
  const seen = new Map<string, string>();
  for (const op of operations) {
    const key = `${op.method} ${op.path}`;
    const other = seen.get(key);
    if (other) throw new Error(`REST operations ${other} and ${op.procedure} are both ${key}`);
    seen.set(key, op.procedure);
  }
  return operations;
}

let cached: readonly RestOperation[] | null = null;

/** The operations of the camfleet router (computed once). */
export function restOperations(): readonly RestOperation[] {
  cached ??= restOperationsOf(appRouter);
  return cached;
}
