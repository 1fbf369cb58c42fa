/**
 * Errors of the REST API: the same error tRPC would send (message, code, fleetCode, limit — made
 * by the router's own error formatter), as a plain JSON body with its HTTP status.
 */
import { getErrorShape, type TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { ZodError, z } from 'zod';
import { FLEET_ERROR_CODES, LIMIT_NAMES } from '../errors.js';
import { appRouter } from '../router.js';

const TRPC_CODES = Object.keys(TRPC_ERROR_CODES_BY_KEY) as [
  keyof typeof TRPC_ERROR_CODES_BY_KEY,
  ...Array<keyof typeof TRPC_ERROR_CODES_BY_KEY>,
];

/** A limit's refusal (429): which limit, the pod's variable that sets it, when to try again. */
export const RestLimit = z.object({
  name: z.enum(LIMIT_NAMES),
  knob: z.string(),
  retryAfterSeconds: z.number().nullable(),
});

/** The body of every error the REST API answers. */
export const RestError = z.object({
  /** What went wrong, readable (a bad input: each problem and where). */
  error: z.string(),
  /** tRPC's code: BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, … */
  code: z.enum(TRPC_CODES),
  /** camfleet's own code, when the domain refused (NOT_FOUND, CONFLICT, INVALID_TRANSITION, …). */
  fleetCode: z.enum(FLEET_ERROR_CODES).nullable(),
  /** A refused input: each problem, with the path of the field. */
  issues: z
    .array(
      z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string(), code: z.string() }),
    )
    .optional(),
  limit: RestLimit.optional(),
});
export type RestError = z.infer<typeof RestError>;

export interface RestAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** The failure behind an error answer, for the pod's log (never sent). */
  readonly error?: TRPCError;
}

/** A failed call as the REST API answers it. `procedure`: the procedure called, if one was. */
export function restError(
  error: TRPCError,
  procedure: { path: string; type: 'query' | 'mutation' } | null = null,
): RestAnswer & { body: RestError } {
  const shape = getErrorShape({
    config: appRouter._def._config,
    error,
    type: procedure?.type ?? 'unknown',
    path: procedure?.path,
    input: undefined,
    ctx: undefined,
  });
  const cause = error.cause;
  const body: RestError = { error: shape.message, code: error.code, fleetCode: shape.data.fleetCode };
  if (cause instanceof ZodError)
    body.issues = cause.issues.map((issue) => ({
      path: issue.path.map((key) => (typeof key === 'number' ? key : String(key))),
      message: issue.message,
      code: issue.code,
    }));
  if (shape.data.limit) body.limit = shape.data.limit;
  const status = getHTTPStatusCodeFromError(error);
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  if (status === 429) headers['retry-after'] = String(shape.data.limit?.retryAfterSeconds ?? 1);
  return { status, body, headers, error };
}
