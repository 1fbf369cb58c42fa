import { type AnyRouter, callTRPCProcedure, getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import {
  type AnyProcedure,
  type MiddlewareResult,
  middlewareMarker,
} from '@trpc/server/unstable-core-do-not-import';

type ProcedureType = 'query' | 'mutation' | 'subscription';

export interface ProcedureCall {
  router: AnyRouter;
  path: string;
  getRawInput: () => Promise<unknown>;
  ctx: unknown;
  type: ProcedureType;
  signal: AbortSignal | undefined;
  batchIndex: number;
}

/** What a middleware is called with (tRPC's callRecursive builds the same object). */
interface MiddlewareOptions extends ProcedureCall {
  input?: unknown;
  meta?: unknown;
  next?: (opts?: {
    ctx?: object;
    input?: unknown;
    getRawInput?: () => Promise<unknown>;
  }) => Promise<MiddlewareResult<unknown>>;
}

type Middleware = (opts: MiddlewareOptions) => Promise<MiddlewareResult<unknown>>;

interface PlainProcedureDef {
  type: ProcedureType;
  meta: unknown;
  middlewares: Middleware[];
  caller?: unknown;
}

/**
 * tRPC's `callProcedure` for the procedures it can run as tRPC 11 does, with the same middlewares
 * in the same order (the error formatter, the router's own, zod's input and output parsers, the
 * resolver) and the same options, results and errors: only the copies of the options each
 * middleware gets are native object spreads, where tRPC's build uses a transpiled helper that
 * defines every property one at a time (12 % of a pod's CPU during a fan-out, one report per
 * delivery passing six middlewares). A lazy router, a procedure of another type (NOT_FOUND) or one
 * with a custom caller go to tRPC's own `callProcedure`.
 */
export function callProcedure(call: ProcedureCall): Promise<unknown> {
  const proc = call.router._def.procedures[call.path] as AnyProcedure | undefined;
  const def = (proc as { _def?: PlainProcedureDef } | undefined)?._def;
  if (
    typeof proc !== 'function' ||
    !def ||
    def.type !== call.type ||
    def.caller ||
    !Array.isArray(def.middlewares)
  )
    return callTRPCProcedure(call);
  return invoke(def, call);
}

/** tRPC's createProcedureCaller's `procedure(opts)`. */
async function invoke(def: PlainProcedureDef, opts: MiddlewareOptions): Promise<unknown> {
  const result = await callRecursive(0, def, opts);
  if (!result)
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'No result from middlewares - did you forget to `return next()`?',
    });
  if (!result.ok) throw result.error;
  return result.data;
}

/** tRPC's callRecursive, with native spreads. */
async function callRecursive(
  index: number,
  def: PlainProcedureDef,
  opts: MiddlewareOptions,
): Promise<MiddlewareResult<unknown>> {
  try {
    const middleware = def.middlewares[index] as Middleware;
    return await middleware({
      ...opts,
      meta: def.meta,
      input: opts.input,
      next(nextOpts) {
        return callRecursive(index + 1, def, {
          ...opts,
          ctx: nextOpts?.ctx ? { ...(opts.ctx as object), ...nextOpts.ctx } : opts.ctx,
          input: nextOpts && 'input' in nextOpts ? nextOpts.input : opts.input,
          getRawInput: nextOpts?.getRawInput ?? opts.getRawInput,
        });
      },
    });
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker };
  }
}
