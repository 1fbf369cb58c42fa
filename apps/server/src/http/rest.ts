/**
 * The REST API on the pod's port (`/api/v1`, docs/rest-api.md): each operation's route for the
 * pod's HTTP router, its body read and its answer written. What a call does — role check, input
 * validation, audit, the error it becomes — is the tRPC procedure's own (contracts/rest).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FleetContext } from '@camfleet/contracts';
import {
  callRest,
  OPENAPI_PATH,
  openApiText,
  REST_BASE,
  type RestAnswer,
  type RestMethod,
  type RestOperation,
  restError,
  restOperations,
} from '@camfleet/contracts/rest';
import { getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import type { HTTPMethod } from 'find-my-way';
import type { Logger } from 'pino';
import { pathOf, sendJson } from './respond.js';

type Params = Record<string, string | undefined>;
export type RestRoute = [
  HTTPMethod[],
  string,
  (req: IncomingMessage, res: ServerResponse, params: Params) => void,
];

export interface RestDeps {
  /** The context of an HTTP request: the one tRPC over HTTP gets (its Bearer token's principal). */
  context(req: IncomingMessage): Promise<FleetContext>;
  /** Largest JSON body, as for tRPC over HTTP. */
  maxBodyBytes: number;
  /** Draining: new calls go to another pod (503, in the API's error format). */
  draining: () => boolean;
  log: Logger;
}

const DRAINING: RestAnswer = {
  ...restError(new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'shutting down: call another pod' })),
  headers: { connection: 'close' },
};

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Past the limit, how much more of a body is read and dropped so the client gets its 413 to read. */
const DRAIN_FACTOR = 4;

/**
 * The request's JSON body: undefined when empty; refused unless it is `application/json`. A body
 * over the limit is read on (and dropped) up to a few times the limit, so the client, still
 * sending, is not cut off before it reads the refusal; past that the connection is closed.
 */
async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
    else if (size > maxBytes * DRAIN_FACTOR) break;
  }
  if (size > maxBytes)
    throw new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `the body is over ${maxBytes} bytes` });
  if (size === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' });
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (cause) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'the body is not valid JSON', cause });
  }
}

/** A route path for find-my-way: `/api/v1/rollouts/:rolloutId`. */
const routePath = (op: RestOperation) => `${REST_BASE}${op.path.replace(/\{([^}]+)\}/g, ':$1')}`;

/** The REST API's routes: each path with its operations, 405 for other methods, 404 below /api/v1. */
export function restRoutes(deps: RestDeps): RestRoute[] {
  const send = (req: IncomingMessage, res: ServerResponse, answer: RestAnswer, procedure?: string) => {
    if (answer.error?.code === 'INTERNAL_SERVER_ERROR')
      deps.log.error({ err: answer.error, path: pathOf(req), procedure }, 'REST request failed');
    // A body left unread (refused before it was read, or too large): this connection cannot carry another request.
    const close = req.complete ? {} : { connection: 'close' };
    sendJson(res, answer.status, answer.body, { ...answer.headers, ...close });
  };
  const refuse = (code: 'NOT_FOUND' | 'METHOD_NOT_SUPPORTED', message: string, headers = {}) =>
    ((req, res) => {
      const answer = restError(new TRPCError({ code, message }));
      send(req, res, { ...answer, headers: { ...answer.headers, ...headers } });
    }) satisfies RestRoute[2];

  const call = (op: RestOperation) =>
    (async (req, res, params) => {
      if (deps.draining()) return send(req, res, DRAINING);
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      const request = {
        params,
        query: new URL(req.url ?? '/', 'http://pod').searchParams,
        body: () => readJsonBody(req, deps.maxBodyBytes),
      };
      let answer: RestAnswer;
      try {
        answer = await callRest(op, await deps.context(req), request, abort.signal);
      } catch (error) {
        // Before any procedure: the login was refused by the failed-login throttle.
        answer = restError(getTRPCErrorFromUnknown(error));
      }
      send(req, res, answer, op.procedure);
    }) satisfies RestRoute[2];

  const paths = new Map<string, Map<RestMethod, RestOperation>>();
  for (const op of restOperations()) {
    const path = routePath(op);
    paths.set(path, (paths.get(path) ?? new Map()).set(op.method, op));
  }
  const routes: RestRoute[] = [];
  const allowing = (path: string, methods: HTTPMethod[]) => {
    const others = METHODS.filter((method) => !methods.includes(method));
    const allow = methods.join(', ');
    routes.push([others, path, refuse('METHOD_NOT_SUPPORTED', `${path} takes ${allow}`, { allow })]);
  };
  for (const [path, ops] of paths) {
    for (const [method, op] of ops) {
      const handle = call(op);
      routes.push([[method], path, (req, res, params) => void handle(req, res, params)]);
    }
    allowing(path, [...ops.keys()].sort());
  }
  let document: string | null = null;
  routes.push([
    ['GET'],
    OPENAPI_PATH,
    (_req, res) => {
      document ??= openApiText();
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(document),
      });
      res.end(document);
    },
  ]);
  allowing(OPENAPI_PATH, ['GET']);
  routes.push([
    METHODS,
    `${REST_BASE}/*`,
    refuse('NOT_FOUND', 'no such operation: see /api/v1/openapi.json'),
  ]);
  return routes;
}
