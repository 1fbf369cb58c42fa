import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import { ClosingIterator, iteratorDone } from './closing-iterator.js';
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

/** A call's result, with a FleetError thrown by the port turned into a typed tRPC error. */
function withDomainError<R extends { ok: boolean; error?: TRPCError }>(result: R): R {
  if (!result.ok && result.error?.cause instanceof FleetError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: TRPC_CODE_OF[cause.code], message: cause.message, cause });
  }
  return result;
}

/** Turns a FleetError thrown by the port into a typed tRPC error. */
const domainErrors = t.middleware(async ({ next }) => withDomainError(await next()));

export const publicProcedure = t.procedure.use(domainErrors);

/**
 * Runs a subscription's source while it holds one of the connection's subscription places (a
 * hostile client cannot open thousands); the place is given back when the subscription ends.
 * As an async generator would, it starts on the first `next()`: the place is taken (or refused)
 * and the source made then.
 */
export function holdingSubscription<T>(
  connection: ConnectionRef | null,
  source: (signal: AbortSignal) => AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  return new Holding<T, T>(connection, source, signal, null);
}

/**
 * holdingSubscription with each value mapped as it passes (the device's offers as tracked events):
 * one iterator instead of a generator per layer, for the subscriptions that carry every delivery.
 */
export function holdingSubscriptionOf<T, U>(
  connection: ConnectionRef | null,
  source: (signal: AbortSignal) => AsyncIterable<T>,
  signal: AbortSignal | undefined,
  map: (value: T) => U,
): AsyncGenerator<U> {
  return new Holding<T, U>(connection, source, signal, map);
}

/** The iterator of holdingSubscription(Of): the source's values, mapped, while a place is held. */
class Holding<T, U> extends ClosingIterator<U> {
  private iterator: AsyncIterator<T> | null = null;
  private release: (() => void) | null = null;
  private ended = false;

  constructor(
    private readonly connection: ConnectionRef | null,
    private readonly source: (signal: AbortSignal) => AsyncIterable<T>,
    private readonly signal: AbortSignal | undefined,
    private readonly map: ((value: T) => U) | null,
  ) {
    super();
  }

  next(): Promise<IteratorResult<U, void>> {
    if (this.ended) return Promise.resolve(iteratorDone());
    let iterator = this.iterator;
    if (!iterator) {
      try {
        this.release = holdSubscription(this.connection);
        iterator = this.iterator = this.source(this.signal ?? new AbortController().signal)[
          Symbol.asyncIterator
        ]();
      } catch (cause) {
        this.end();
        return Promise.reject(cause);
      }
    }
    return iterator.next().then(
      (result) => {
        if (result.done) {
          this.end();
          return iteratorDone<U>();
        }
        const map = this.map;
        if (!map) return { value: result.value as unknown as U, done: false as const };
        try {
          return { value: map(result.value), done: false as const };
        } catch (cause) {
          // As the generator did: the source is returned, the place given back, the error thrown.
          return this.return().then(() => Promise.reject(cause));
        }
      },
      (cause: unknown) => {
        this.end();
        throw cause;
      },
    );
  }

  private end(): void {
    this.ended = true;
    this.iterator = null;
    const release = this.release;
    this.release = null;
    release?.();
  }

  async return(): Promise<IteratorResult<U, void>> {
    const iterator = this.iterator;
    this.ended = true;
    try {
      await iterator?.return?.();
    } finally {
      this.end();
    }
    return iteratorDone();
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

/**
 * A call from an authenticated device; `ctx.deviceId` is who it is. publicProcedure's domain errors
 * and the device check are one middleware, not two: a device's report passes it once per delivery.
 */
export const deviceProcedure = t.procedure.use(async ({ ctx, next }) => {
  if (ctx.principal.kind !== 'device') {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'device credentials required' });
  }
  return withDomainError(await next({ ctx: { ...ctx, deviceId: ctx.principal.deviceId } }));
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
