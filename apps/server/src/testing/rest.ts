import type { OpenApiDocument } from '@camfleet/contracts/rest';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

export interface RestCall {
  method: string;
  /** The path, parameters filled in (`/api/v1/rollouts/ro_…`). */
  path: string;
  token?: string | null;
  query?: Record<string, string | string[]>;
  /** JSON, sent as application/json; a string or Buffer is sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RestReply {
  status: number;
  headers: Headers;
  /** The parsed JSON body (or the text, when it is not JSON). */
  body: unknown;
}

/** One HTTP request to a pod, as any REST client makes it. */
export async function rest(baseUrl: string, call: RestCall): Promise<RestReply> {
  const url = new URL(call.path, baseUrl);
  for (const [name, value] of Object.entries(call.query ?? {}))
    for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
  const headers: Record<string, string> = { ...call.headers };
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  let body: string | Buffer | undefined;
  if (typeof call.body === 'string' || Buffer.isBuffer(call.body)) body = call.body;
  else if (call.body !== undefined) {
    body = JSON.stringify(call.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method: call.method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** `a/b` as a JSON pointer token. */
const token = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Judges answers by an OpenAPI document: the schema it gives for a path, method and status
 * (following a `$ref` to a shared response), with ajv's draft 2020-12.
 */
export class DocumentedAnswers {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly doc: OpenApiDocument) {
    this.ajv.addSchema(doc as object, 'openapi');
  }

  /** The statuses documented for an operation. */
  statuses(path: string, method: string): string[] {
    return Object.keys(this.operation(path, method).responses);
  }

  /** Null when `body` is what the document promises for this status, else what is wrong. */
  problems(path: string, method: string, status: number, body: unknown): string | null {
    const key = `${method} ${path} ${status}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const responses = this.operation(path, method).responses;
      const response = responses[String(status)];
      if (!response) return `${status} is not documented for ${method.toUpperCase()} ${path}`;
      const pointer =
        '$ref' in response ? response.$ref : `#/paths/${token(path)}/${method}/responses/${status}`;
      validate = this.ajv.compile({ $ref: `openapi${pointer}/content/application~1json/schema` });
      this.compiled.set(key, validate);
    }
    return validate(body) ? null : this.ajv.errorsText(validate.errors);
  }

  private operation(path: string, method: string) {
    const operation = this.doc.paths[path]?.[method as 'get'];
    if (!operation) throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
    return operation;
  }
}
