import { appRouter, type FleetContext, FleetError } from '@camfleet/contracts';
import { type AnyRouter, callTRPCProcedure, getTRPCErrorShape, initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callProcedure, type ProcedureCall } from './procedure-call.js';

interface Ctx {
  user: string | null;
  seen: string[];
}

const t = initTRPC
  .context<Ctx>()
  .meta<{ role?: string }>()
  .create({
    transformer: superjson,
    errorFormatter: ({ shape, error, input, type, path }) => ({
      ...shape,
      data: { ...shape.data, stack: undefined, formatted: { input, type, path, cause: String(error.cause) } },
    }),
  });

const authed = t.procedure.use(({ ctx, next, meta, type, path }) => {
  ctx.seen.push(`authed ${type} ${path} ${meta?.role ?? '-'}`);
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'who are you' });
  return next({ ctx: { user: ctx.user.toUpperCase() } });
});

const testRouter = t.router({
  echo: authed
    .meta({ role: 'viewer' })
    .input(z.object({ text: z.string().max(5), n: z.number().default(1) }))
    .output(z.object({ text: z.string(), by: z.string() }))
    .query(({ input, ctx }) => ({ text: input.text.repeat(input.n), by: ctx.user ?? '', extra: 'stripped' })),
  badOutput: authed.output(z.object({ n: z.number() })).mutation(() => ({ n: 'not a number' }) as never),
  fails: t.procedure.mutation(() => {
    throw new Error('plain failure');
  }),
  refuses: t.procedure.mutation(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'no', cause: new RangeError('why') });
  }),
  noNext: t.procedure.use((async () => undefined) as never).query(() => 'unreached'),
  twoInputs: t.procedure
    .input(z.object({ a: z.number() }))
    .input(z.object({ b: z.string() }))
    .use(({ input, next }) => next({ input: { ...(input as object), c: true } }))
    .query(({ input }) => input),
  rawInput: t.procedure
    .use(async ({ getRawInput, next }) => {
      const raw = await getRawInput();
      return next({ getRawInput: async () => ({ wrapped: raw }) });
    })
    // The input parser reads the raw input the middleware passed on.
    .input(z.unknown())
    .query(({ input }) => input),
  ticks: authed.input(z.object({ upTo: z.number() })).subscription(async function* ({ input, signal }) {
    for (let i = 0; i < input.upTo; i++) yield { i, aborted: signal?.aborted ?? null };
    throw new TRPCError({ code: 'CONFLICT', message: 'ticks ran out' });
  }),
});

/** What a call came to: its data (a subscription's values, then its end), or its error as sent. */
async function outcome(
  call: (c: ProcedureCall) => Promise<unknown>,
  router: AnyRouter,
  ctx: unknown,
  type: ProcedureCall['type'],
  path: string,
  input: unknown,
): Promise<unknown> {
  const seen: string[] = [];
  const context = ctx && typeof ctx === 'object' && 'seen' in ctx ? { ...ctx, seen } : ctx;
  const describeError = (cause: unknown) => {
    const error = cause as TRPCError;
    return {
      error: error.constructor.name,
      code: error.code,
      message: error.message,
      cause: error.cause ? `${error.cause.constructor.name}: ${error.cause.message}` : null,
      shape: getTRPCErrorShape({ config: router._def._config, ctx: undefined, error, type, path, input }),
    };
  };
  try {
    const data = await call({
      router,
      path,
      getRawInput: async () => input,
      ctx: context,
      type,
      signal: new AbortController().signal,
      batchIndex: 0,
    });
    if (type !== 'subscription') return { data, seen };
    const values: unknown[] = [];
    try {
      for await (const value of data as AsyncIterable<unknown>) values.push(value);
      return { values, seen };
    } catch (cause) {
      return { values, seen, end: describeError(cause) };
    }
  } catch (cause) {
    return { ...describeError(cause), seen };
  }
}

async function same(
  router: AnyRouter,
  ctx: unknown,
  type: ProcedureCall['type'],
  path: string,
  input: unknown,
) {
  const ours = await outcome(callProcedure, router, ctx, type, path, input);
  const trpcs = await outcome(
    callTRPCProcedure as (c: ProcedureCall) => Promise<unknown>,
    router,
    ctx,
    type,
    path,
    input,
  );
  expect(ours).toEqual(trpcs);
  return ours;
}

describe('callProcedure', () => {
  const user = { user: 'ada', seen: [] };
  const nobody = { user: null, seen: [] };

  it('runs middlewares, input and output parsers and the resolver as tRPC does', async () => {
    expect(await same(testRouter, user, 'query', 'echo', { text: 'ab', n: 2 })).toEqual({
      data: { text: 'abab', by: 'ADA' },
      seen: ['authed query echo viewer'],
    });
    await same(testRouter, user, 'query', 'echo', { text: 'ab' });
    await same(testRouter, user, 'query', 'twoInputs', { a: 1, b: 'x' });
    await same(testRouter, user, 'query', 'rawInput', { a: 1 });
  });

  it('fails as tRPC fails: refusals, bad input and output, thrown errors, no result, wrong type or path', async () => {
    await same(testRouter, nobody, 'query', 'echo', { text: 'ab' });
    await same(testRouter, user, 'query', 'echo', { text: 'too long' });
    await same(testRouter, user, 'query', 'echo', 'not an object');
    await same(testRouter, user, 'mutation', 'badOutput', undefined);
    await same(testRouter, user, 'mutation', 'fails', undefined);
    await same(testRouter, user, 'mutation', 'refuses', undefined);
    await same(testRouter, user, 'query', 'noNext', undefined);
    await same(testRouter, user, 'query', 'twoInputs', { a: 1 });
    await same(testRouter, user, 'mutation', 'echo', { text: 'ab' });
    await same(testRouter, user, 'query', 'nowhere', undefined);
  });

  it('returns a subscription wrapped by the error formatter, as tRPC does', async () => {
    const result = await same(testRouter, user, 'subscription', 'ticks', { upTo: 2 });
    expect(result).toMatchObject({ values: [{ i: 0 }, { i: 1 }], end: { code: 'CONFLICT' } });
    await same(testRouter, nobody, 'subscription', 'ticks', { upTo: 2 });
  });

  it('runs the device router as tRPC does', async () => {
    const reported: unknown[] = [];
    const fleet = {
      devices: {
        report: async (deviceId: string, input: { deliveryId: string; attempt: number }) => {
          reported.push({ deviceId, input });
          if (input.attempt === 9) throw new FleetError('STALE_ATTEMPT', 'attempt 9 is not current');
          return {
            deliveryId: input.deliveryId,
            attempt: input.attempt,
            state: 'succeeded',
            duplicate: false,
          };
        },
      },
    };
    const device: FleetContext = {
      principal: { kind: 'device', deviceId: 'cam-1' },
      fleet: fleet as never,
      connection: null,
    };
    const report = (attempt: number, extra: object = {}) => ({
      deliveryId: 'ro_1:cam-1',
      attempt,
      status: 'succeeded',
      firmwareVersion: '2.0',
      ...extra,
    });
    await same(appRouter, device, 'mutation', 'device.report', report(1));
    await same(appRouter, device, 'mutation', 'device.report', report(9));
    await same(appRouter, device, 'mutation', 'device.report', report(0));
    await same(appRouter, device, 'mutation', 'device.report', report(1, { status: 'exploded' }));
    await same(
      appRouter,
      { ...device, principal: { kind: 'anonymous' } },
      'mutation',
      'device.report',
      report(1),
    );
    expect(reported).toHaveLength(4);
  });
});
