/**
 * A REST request's parts made into its procedure's input: path parameters and the query string
 * (GET, DELETE) or the JSON body (POST), each query value read as its field's JSON Schema type
 * says (`?limit=5` is the number 5, `?online=true` the boolean). zod then judges it, as over tRPC.
 */
import { TRPCError } from '@trpc/server';
import type { JsonSchema } from '../json-schema.js';
import { objectFields, type RestOperation, typesOf } from './routes.js';

export interface RestRequest {
  /** Path parameters, decoded. */
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body (undefined when there is none); read only when the input is asked for. */
  readonly body: () => Promise<unknown>;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A query value as the field's type: a number or boolean when it reads as one; else the text. */
function scalar(text: string, field: JsonSchema): unknown {
  const types = typesOf(field);
  if ((types.includes('integer') || types.includes('number')) && NUMBER.test(text)) return Number(text);
  if (types.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

function fromQuery(values: string[], field: JsonSchema | undefined): unknown {
  if (!field) return values.length === 1 ? values[0] : values;
  if (typesOf(field).includes('array')) {
    const items = typeof field.items === 'object' && !Array.isArray(field.items) ? field.items : {};
    return values.map((value) => scalar(value, items));
  }
  // Repeated where one is expected: left as a list, for zod to refuse.
  return values.length === 1 ? scalar(values[0] ?? '', field) : values;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The procedure's input. Undefined when the request carries none (so the input's defaults apply);
 * a body that is not a JSON object, where path parameters must join it, is refused.
 */
export async function restInput(op: RestOperation, request: RestRequest): Promise<unknown> {
  if (!op.inputSchema) return undefined;
  const { fields } = objectFields(op.inputSchema);
  const fromPath: Record<string, unknown> = {};
  for (const name of op.pathParams) fromPath[name] = scalar(request.params[name] ?? '', fields[name] ?? {});
  let rest: unknown;
  if (op.inputFrom === 'body') {
    rest = await request.body();
  } else {
    const names = [...new Set(request.query.keys())];
    rest = names.length
      ? Object.fromEntries(names.map((name) => [name, fromQuery(request.query.getAll(name), fields[name])]))
      : undefined;
  }
  if (op.pathParams.length === 0) return rest;
  if (rest !== undefined && !isPlainObject(rest))
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'the body must be a JSON object' });
  // The path names the resource: a field of the same name in the body or query does not override it
  // (path fields first, as a tRPC client would write them: the audit log shows the same input).
  return { ...fromPath, ...rest, ...fromPath };
}
