import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import { FleetError, type FleetErrorCode, type LimitInfo, LimitRefused, TRPC_CODE_OF } from './errors.js';
import type { WireError } from './protocol/frames.js';
import { roleAtLeast } from './roles.js';
import type { AdminRole, ConnectionRef, FleetContext, SubscriptionPlaces } from './services.js';

/**
 * What a procedure says about itself, for the edges that read the router (the REST API and its
 * OpenAPI document): `role` is set by `adminProcedure`, from the same value its check enforces.
 */
export interface ProcedureMeta {
  role?: AdminRole;
}

const builder = initTRPC.context<FleetContext>().meta<ProcedureMeta>();
const t = builder.create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const fleetCode: FleetErrorCode | null =
      cause instanceof FleetError ? cause.code : error.code === 'UNAUTHORIZED' ? 'UNAUTHORIZED' : null;
    // Never ship stack traces to devices or operators.
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      // A readable summary instead of a JSON dump of zod issues.
      message: cause instanceof ZodError ? z.prettifyError(cause) : shape.message,
      data: {
        ...data,
        fleetCode,
        limit: cause instanceof LimitRefused ? cause.limit : null,
        zodIssues: cause instanceof ZodError ? z.flattenError(cause) : null,
      },
      // What devices are promised: the protocol's JSON Schemas are generated from WireError.
    } satisfies WireError;
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Turns a FleetError thrown by the port into a typed tRPC error. */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof FleetError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: TRPC_CODE_OF[cause.code], message: cause.message, cause });
  }
  return result;
});

export const publicProcedure = t.procedure.use(domainErrors);

/**
 * Runs a subscription's source while it holds one of the connection's subscription places (a
 * hostile client cannot open thousands); the place is given back when the subscription ends.
 */
export async function* holdingSubscription<T>(
  connection: ConnectionRef | null,
  source: (signal: AbortSignal) => AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  const release = holdSubscription(connection);
  try {
    yield* source(signal ?? new AbortController().signal);
  } finally {
    release();
  }
}

function holdSubscription(connection: ConnectionRef | null): () => void {
  if (!connection) return () => undefined;
  const places: Array<[SubscriptionPlaces, LimitInfo, string]> = [
    [
      connection.subscriptions,
      { name: 'subscriptions_per_connection', knob: 'FLEET_WS_MAX_SUBSCRIPTIONS', retryAfterSeconds: null },
      'per connection',
    ],
  ];
  if (connection.principalSubscriptions)
    places.push([
      connection.principalSubscriptions,
      {
        name: 'subscriptions_per_principal',
        knob: 'FLEET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL',
        retryAfterSeconds: null,
      },
      'per token or device on this pod',
    ]);
  for (const [held, limit, scope] of places) {
    if (held.open >= held.max) throw limitError(limit, `at most ${held.max} subscriptions ${scope}`);
  }
  for (const [held] of places) held.open++;
  let holding = true;
  return () => {
    if (holding) for (const [held] of places) held.open--;
    holding = false;
  };
}

/**
 * A limit's refusal as tRPC sends it: TOO_MANY_REQUESTS, with the limit in `data.limit`. Thrown
 * where the domain-error middleware cannot see it (inside a subscription's source) or by the edges.
 */
export function limitError(limit: LimitInfo, message: string): TRPCError {
  return refusalError(new LimitRefused(limit, message));
}

/** A refusal a service already made, as tRPC sends it (its message already names the limit). */
export function refusalError(refusal: LimitRefused): TRPCError {
  return new TRPCError({ code: 'TOO_MANY_REQUESTS', message: refusal.message, cause: refusal });
}

/** A call from an authenticated device; `ctx.deviceId` is who it is. */
export const deviceProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.principal.kind !== 'device') {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'device credentials required' });
  }
  return next({ ctx: { ...ctx, deviceId: ctx.principal.deviceId } });
});

/** A connection that presented an enrollment token: it may only enroll. */
export const enrolleeProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.principal.kind !== 'enrollee') {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'enrollment needs an enrollment token' });
  }
  return next({
    ctx: { ...ctx, deviceId: ctx.principal.deviceId, enrollTokenId: ctx.principal.enrollTokenId },
  });
});

const SECRET_FIELDS = /token|secret|password/i;

/** The input of an admin call for the audit log: secrets dropped, shortened. */
function auditInput(input: unknown): string {
  const text = JSON.stringify(input ?? null, (key, value: unknown) =>
    SECRET_FIELDS.test(key) ? '[redacted]' : value,
  );
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/** Every mutating admin call lands in the audit log: who, what, when, and whether it worked. */
const audited = t.middleware(async ({ ctx, type, path, getRawInput, next }) => {
  const result = await next();
  if (type === 'mutation' && ctx.principal.kind === 'admin') {
    await ctx.fleet.audit.record({
      actor: ctx.principal.name,
      role: ctx.principal.role,
      action: path,
      input: auditInput(await getRawInput().catch(() => null)),
      ok: result.ok,
      error: result.ok ? null : result.error.message,
    });
  }
  return result;
});

/** A call from an admin whose role is at least `role`; `ctx.actor` names them for audit fields. */
export function adminProcedure(role: AdminRole) {
  // The role as metadata too: the REST API and its OpenAPI document read it from the router.
  const procedure = publicProcedure.meta({ role });
  return procedure.use(audited).use(({ ctx, next }) => {
    const principal = ctx.principal;
    if (principal.kind !== 'admin') {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'admin token required' });
    }
    if (!roleAtLeast(principal.role, role)) {
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: `role ${role} required, token has ${principal.role}`,
      });
    }
    return next({ ctx: { ...ctx, actor: principal.name } });
  });
}
