import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { zodJsonSchema } from '../json-schema.js';
import { appRouter } from '../router.js';
import { adminProcedure, router } from '../trpc.js';
import { OPENAPI_FILE, openApiDocument, openApiText } from './openapi.js';
import { REST_ROUTES, restOperations, restOperationsOf } from './routes.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const REGENERATE = 'run `pnpm openapi` and commit what it writes';

describe('the committed OpenAPI document (docs/openapi.json)', () => {
  it('is what the router and its zod schemas generate', () => {
    const file = join(ROOT, OPENAPI_FILE);
    expect(existsSync(file), `${OPENAPI_FILE} is missing: ${REGENERATE}`).toBe(true);
    expect(
      readFileSync(file, 'utf8'),
      `${OPENAPI_FILE} differs from what the source generates: ${REGENERATE}`,
    ).toBe(openApiText());
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(openApiText()));
    expect(result.errors ?? null).toBeNull();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });
});

describe('REST operations, read from the router', () => {
  const procedures = Object.entries(
    appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
  );

  it('are every query and mutation of an admin procedure, and nothing of the device or subscriptions', () => {
    const served = restOperations().map((op) => op.procedure);
    const expected = procedures
      .filter(([path, procedure]) => !path.startsWith('device.') && procedure._def.type !== 'subscription')
      .map(([path]) => path);
    expect(served).toEqual(expected);
  });

  it('carry the role the procedure checks', () => {
    const roles = Object.fromEntries(restOperations().map((op) => [op.procedure, op.role]));
    expect(roles).toMatchObject({
      'rollout.list': 'viewer',
      'rollout.create': 'operator',
      'devices.credentials.provision': 'admin',
      'audit.list': 'admin',
    });
  });

  it('give a procedure nobody listed a path from its name', () => {
    const NamedById = z.object({ hookId: z.string(), limit: z.number().int().default(10) });
    const extra = router({
      webhooks: router({
        create: adminProcedure('admin')
          .input(z.object({ url: z.string() }))
          .mutation(() => ({ hookId: 'h1' })),
        list: adminProcedure('admin').query(() => []),
        get: adminProcedure('viewer')
          .input(NamedById)
          .query(() => null),
        delete: adminProcedure('admin')
          .input(NamedById)
          .mutation(() => null),
        deliveries: adminProcedure('admin')
          .input(NamedById)
          .query(() => []),
        sendTest: adminProcedure('admin')
          .input(NamedById)
          .mutation(() => null),
        search: adminProcedure('viewer')
          .input(z.object({ filter: z.object({ events: z.array(z.string()) }) }))
          .query(() => []),
      }),
    });
    const routes = restOperationsOf(extra, {}).map(
      (op) => `${op.method} ${op.path} ${op.status} ${op.inputFrom}`,
    );
    expect(routes).toEqual([
      'POST /webhooks 201 body',
      'GET /webhooks 200 query',
      'GET /webhooks/{hookId} 200 query',
      'DELETE /webhooks/{hookId} 200 query',
      'GET /webhooks/{hookId}/deliveries 200 query',
      'POST /webhooks/{hookId}/send-test 200 body',
      // A nested input cannot travel in a query string.
      'POST /webhooks/search 200 body',
    ]);
    const doc = openApiDocument(restOperationsOf(extra, {}));
    expect(doc.paths['/api/v1/webhooks/{hookId}']?.get?.parameters?.map((p) => `${p.in} ${p.name}`)).toEqual([
      'path hookId',
      'query limit',
    ]);
  });

  it('refuse a table naming what the router lacks, or two operations on one path', () => {
    const gone = { method: 'GET', path: '/gone', summary: 's' } as const;
    expect(() => restOperationsOf(appRouter, { ...REST_ROUTES, 'rollout.gone': gone })).toThrow(
      /REST_ROUTES names rollout.gone/,
    );
    expect(() =>
      restOperationsOf(appRouter, {
        ...REST_ROUTES,
        'patch.list': { method: 'GET', path: '/rollouts', summary: 's' },
      }),
    ).toThrow(/both GET \/rollouts/);
  });
});

describe('refinements in the document', () => {
  it('are said in the description when nobody wrote them as JSON Schema, instead of failing', () => {
    const Window = z
      .object({ from: z.number(), to: z.number() })
      .refine((w) => w.to > w.from, { message: 'to must come after from' });
    const where = 'a test';
    expect(() => zodJsonSchema(Window, { io: 'input', where })).toThrow(/cannot express/);
    const described = zodJsonSchema(Window, { io: 'input', where, unexpressed: 'describe' });
    expect(described.description).toBe('Also checked by the server: to must come after from.');
    expect(
      zodJsonSchema(z.object({ at: z.date() }), { io: 'output', where, unexpressed: 'describe' }),
    ).toMatchObject({
      properties: { at: {} },
    });
  });
});
