import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { safeText } from '../schemas.js';
import { ASYNCAPI_FILE, asyncApiDocument, protocolDocuments, SCHEMAS_FOLDER } from './asyncapi.js';
import { asyncApiExamples, EXAMPLE_CONFLICT, EXAMPLE_DEVICE, EXAMPLE_OFFER } from './asyncapi-messages.js';
import { PROTOCOL_SCHEMAS, type ProtocolSchemaName, protocolJsonSchema } from './json-schemas.js';
import { loadProtocolSchemas, PROTOCOL_DOCS_DIR, type ProtocolSchemas } from './validate.js';

const REGENERATE = 'run `pnpm protocol:schemas` and commit what it writes';
const documents = protocolDocuments();

describe('committed protocol files (docs/device-protocol)', () => {
  it.each([...documents.keys()])('%s is what the zod schemas generate', (path) => {
    const file = join(PROTOCOL_DOCS_DIR, path);
    expect(existsSync(file), `docs/device-protocol/${path} is missing: ${REGENERATE}`).toBe(true);
    expect(
      readFileSync(file, 'utf8'),
      `docs/device-protocol/${path} differs from what the schemas generate: ${REGENERATE}`,
    ).toBe(documents.get(path));
  });

  it('holds no schema file the source does not generate', () => {
    const extra = readdirSync(join(PROTOCOL_DOCS_DIR, SCHEMAS_FOLDER))
      .filter((name) => name.endsWith('.schema.json') && !documents.has(`${SCHEMAS_FOLDER}/${name}`))
      .map((name) => `docs/device-protocol/${SCHEMAS_FOLDER}/${name}`);
    expect(extra, `schema files no schema generates any more: ${REGENERATE}`).toEqual([]);
  });
});

// Loaded before the tests that use it, so a broken file fails those and the drift test above says why.
let schemas: ProtocolSchemas;
beforeAll(() => {
  schemas = loadProtocolSchemas();
});

/** zod's verdict: an input is what parses; an output is what zod could produce (parses to itself). */
function zodAccepts(name: ProtocolSchemaName, value: unknown): boolean {
  const entry = PROTOCOL_SCHEMAS.find((schema) => schema.name === name);
  if (!entry) throw new Error(`no schema ${name}`);
  const parsed = z.safeParse(entry.schema, value);
  return parsed.success && (entry.io === 'input' || isDeepStrictEqual(parsed.data, value));
}

const DELIVERY = 'ro_57dceb73f16552883fec:cam-0001';
const OFFER_ID = `${DELIVERY}#1`;
const labels = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));
const register = { model: 'cam-x', firmwareVersion: '1.0.0' };
const report = { deliveryId: DELIVERY, attempt: 1 };
const device = EXAMPLE_DEVICE;
const offer = {
  ...EXAMPLE_OFFER,
  offer: {
    ...EXAMPLE_OFFER.offer,
    patch: {
      ...EXAMPLE_OFFER.offer.patch,
      signature: { keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` },
    },
  },
};
const cancel = { type: 'cancel', deliveryId: DELIVERY, attempt: 1, reason: 'rollout stopped' };
const conflict = EXAMPLE_CONFLICT;
const refused = {
  message: 'credentials refused',
  code: -32001,
  data: { code: 'UNAUTHORIZED', httpStatus: 401, fleetCode: 'UNAUTHORIZED', limit: null, zodIssues: null },
};
const limited = {
  message: 'too many failed logins',
  code: -32029,
  data: {
    code: 'TOO_MANY_REQUESTS',
    httpStatus: 429,
    fleetCode: 'TOO_MANY_REQUESTS',
    limit: {
      name: 'auth_failures_per_identity',
      knob: 'FLEET_AUTH_FAILURES_PER_IDENTITY',
      retryAfterSeconds: 60,
    },
    zodIssues: null,
  },
};
const invalid = {
  message: '✖ a failed report needs an error\n  → at error',
  code: -32600,
  data: {
    code: 'BAD_REQUEST',
    httpStatus: 400,
    path: 'device.report',
    fleetCode: null,
    limit: null,
    zodIssues: { formErrors: [], fieldErrors: { error: ['a failed report needs an error'] } },
  },
};
const fallback = {
  code: -32603,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};
const request = (method: string, path: string, json: unknown, extra: Record<string, unknown> = {}) => ({
  id: 1,
  method,
  params: { path, input: { json }, ...extra },
});
const answer = (json: unknown) => ({ id: 1, result: { type: 'data', data: { json } } });
const event = (data: unknown, id = OFFER_ID) => ({
  id: 2,
  result: { type: 'data', id, data: { json: { id, data } } },
});

/** Values each schema must take or refuse, as zod does; the refinements written by hand among them. */
const SAMPLES: Record<ProtocolSchemaName, { valid: unknown[]; invalid: unknown[] }> = {
  'register-input': {
    valid: [
      register,
      { ...register, labels: { site: 'north', 'team/area': 'b 2' } },
      { ...register, labels: labels(32) },
      { ...register, model: '📷'.repeat(64), extra: 'ignored' },
      { ...register, firmwareVersion: 'v1 (ünïcode, \u00a0, 文字)' },
    ],
    invalid: [
      {},
      { ...register, model: '' },
      { ...register, model: 'x'.repeat(65) },
      { ...register, model: '📷'.repeat(65) },
      { ...register, model: 'bell\u0007' },
      { ...register, model: 'tab\there' },
      { ...register, model: 'c1\u0085' },
      { ...register, model: 'bidi\u202e' },
      { ...register, model: 'isolate\u2066' },
      { ...register, model: 'lone\ud800' },
      { ...register, model: '\udc00lone' },
      { ...register, firmwareVersion: 7 },
      { ...register, labels: labels(33) },
      { ...register, labels: { 'bad key': 'v' } },
      { ...register, labels: { 'a:b': 'v' } },
      { ...register, labels: { site: 'line\nbreak' } },
      { ...register, labels: { site: 1 } },
    ],
  },
  device: {
    valid: [device, { ...device, node: null, labels: {} }],
    invalid: [{ ...device, extra: 1 }, { ...device, node: undefined }, { ...device, id: 'bad id' }, {}],
  },
  'offers-input': {
    valid: [{}, { lastEventId: null }, { lastEventId: OFFER_ID }, { lastEventId: 'x'.repeat(300) }],
    invalid: [null, { lastEventId: 5 }, { lastEventId: 'x'.repeat(301) }, { lastEventId: 'a\u0000' }],
  },
  'device-event': {
    valid: [
      offer,
      cancel,
      { ...offer, offer: { ...offer.offer, patch: { ...offer.offer.patch, artifact: null } } },
    ],
    invalid: [
      { ...cancel, type: 'other' },
      { ...cancel, attempt: 0 },
      { ...cancel, extra: true },
      { ...cancel, deliveryId: 'bell\u0007' },
      { ...offer, offer: { ...offer.offer, rolloutId: 'rollout-1' } },
    ],
  },
  'report-input': {
    valid: [
      { ...report, status: 'downloading', progress: 50, bytes: 7 },
      { ...report, status: 'installing' },
      { ...report, status: 'installed' },
      { ...report, status: 'succeeded', firmwareVersion: '2.0.0' },
      { ...report, status: 'failed', error: 'disk full' },
      { ...report, status: 'failed', error: 'tab\tcr\rlf\n are spaces' },
      { ...report, status: 'canceled', unknown: 'ignored' },
      { ...report, status: 'downloading', error: 'x', attempt: 10000 },
    ],
    invalid: [
      { ...report, status: 'failed' },
      { ...report, status: 'succeeded' },
      { ...report, status: 'succeeded', error: 'x' },
      { ...report, status: 'failed', error: '' },
      { ...report, status: 'failed', error: 'x'.repeat(1025) },
      { ...report, status: 'failed', error: 'nul\u0000' },
      { ...report, status: 'failed', error: 'bidi\u2069' },
      { ...report, status: 'bogus' },
      { ...report, status: 'installing', attempt: 0 },
      { ...report, status: 'installing', attempt: 10001 },
      { ...report, status: 'installing', attempt: 1.5 },
      { ...report, status: 'downloading', progress: 101 },
      { ...report, status: 'downloading', bytes: -1 },
      { ...report, status: 'installing', deliveryId: 'abc' },
      { ...report, status: 'installing', deliveryId: `${DELIVERY}\u009f` },
      { ...report, status: 'succeeded', firmwareVersion: '' },
    ],
  },
  'report-result': {
    valid: [{ deliveryId: DELIVERY, attempt: 1, state: 'downloading', duplicate: false }],
    invalid: [
      { deliveryId: DELIVERY, attempt: 1, state: 'bogus', duplicate: false },
      { deliveryId: DELIVERY, attempt: 1, state: 'verifying' },
    ],
  },
  'artifact-url-input': {
    valid: [{ deliveryId: DELIVERY, attempt: 1 }],
    invalid: [
      { deliveryId: DELIVERY },
      { deliveryId: DELIVERY, attempt: 0 },
      { deliveryId: 'x', attempt: 1 },
    ],
  },
  'artifact-url': {
    valid: [
      { url: '/artifacts/abc', expiresAt: null },
      { url: 'https://s3.example/b/k?X-Amz-Signature=1', expiresAt: 1796526123906 },
    ],
    invalid: [{ url: '/artifacts/abc' }, { url: 1, expiresAt: null }],
  },
  'device-credential': {
    valid: [{ deviceId: 'cam-0009', secret: 'cfd_x' }],
    invalid: [{ deviceId: 'cam-0009' }, { deviceId: '-cam', secret: 'cfd_x' }],
  },
  'wire-error': {
    valid: [conflict, refused, limited, invalid],
    invalid: [
      fallback,
      { ...conflict, code: 123 },
      { ...conflict, data: { ...conflict.data, code: 'NOPE' } },
      { ...conflict, data: { ...conflict.data, fleetCode: undefined } },
      { ...limited, data: { ...limited.data, limit: { ...limited.data.limit, name: 'nope' } } },
      { ...conflict, data: { ...conflict.data, stack: 'at …' } },
    ],
  },
  'connection-params': {
    valid: [
      { method: 'connectionParams', data: { deviceId: 'cam-0001', secret: 'cfd_x' } },
      { method: 'connectionParams', data: { deviceId: 'cam-0009', enrollToken: 'cfe_x' } },
      { method: 'connectionParams', data: { deviceId: 'cam-0009', secret: 'cfd_x', enrollToken: 'cfe_x' } },
      { method: 'connectionParams', data: { deviceId: 'cam-0001', secret: 'cfd_x', note: 'strings pass' } },
    ],
    invalid: [
      { method: 'connectionParams', data: { deviceId: 'cam-0001', secret: 5 } },
      { method: 'connectionParams', data: { deviceId: 'cam-0001', secret: 'cfd_x', retries: 3 } },
      { method: 'connectionParams', data: { deviceId: 'cam:0001', secret: 'cfd_x' } },
      { method: 'connectionParams', data: { deviceId: 'cam-0001' } },
      { method: 'connectionParams', data: { secret: 'cfd_x' } },
      { method: 'connectionParams', data: { token: 'admin' } },
      { method: 'hello', data: { deviceId: 'cam-0001', secret: 'cfd_x' } },
    ],
  },
  'register-request': {
    valid: [
      request('mutation', 'device.register', register),
      { ...request('mutation', 'device.register', register), id: 'a', jsonrpc: '2.0' },
    ],
    invalid: [
      { ...request('mutation', 'device.register', register), id: null },
      { ...request('mutation', 'device.register', register), jsonrpc: '1.0' },
      request('query', 'device.register', register),
      request('mutation', 'device.register', { ...register, model: '' }),
      { id: 1, method: 'mutation', params: { path: 'device.register', input: register } },
      { id: 1, method: 'mutation', params: { path: 'device.register' } },
    ],
  },
  'offers-request': {
    valid: [
      request('subscription', 'device.offers', {}),
      request('subscription', 'device.offers', { lastEventId: OFFER_ID }, { lastEventId: OFFER_ID }),
      { id: 2, method: 'subscription', params: { path: 'device.offers', input: {} } },
    ],
    invalid: [
      request('subscription', 'device.offers', null),
      request('subscription', 'device.offers', {}, { lastEventId: null }),
      request('subscription', 'device.offers', {}, { lastEventId: 'x'.repeat(301) }),
      request('mutation', 'device.offers', {}),
    ],
  },
  'report-request': {
    valid: [
      request('mutation', 'device.report', { ...report, status: 'succeeded', firmwareVersion: '2.0.0' }),
    ],
    invalid: [
      request('mutation', 'device.report', { ...report, status: 'failed' }),
      request('mutation', 'device.report', { ...report, status: 'succeeded' }),
    ],
  },
  'artifact-url-request': {
    valid: [request('mutation', 'device.artifactUrl', { deliveryId: DELIVERY, attempt: 2 })],
    invalid: [
      request('mutation', 'device.artifactUrl', { deliveryId: DELIVERY }),
      request('query', 'device.artifactUrl', { deliveryId: DELIVERY, attempt: 2 }),
    ],
  },
  'enroll-request': {
    valid: [request('mutation', 'device.enroll', null)],
    invalid: [
      request('mutation', 'device.enroll', {}),
      { id: 1, method: 'mutation', params: { path: 'device.enroll' } },
    ],
  },
  'subscription-stop': {
    valid: [
      { id: 2, method: 'subscription.stop' },
      { id: 'x', jsonrpc: '2.0', method: 'subscription.stop' },
    ],
    invalid: [{ method: 'subscription.stop' }, { id: null, method: 'subscription.stop' }],
  },
  'request-batch': {
    valid: [[], [{ id: 2, method: 'subscription.stop' }, request('subscription', 'device.offers', {})]],
    invalid: [
      request('subscription', 'device.offers', {}),
      [{ method: 'connectionParams', data: { deviceId: 'cam-0001', secret: 'cfd_x' } }],
    ],
  },
  'client-frame': {
    valid: [
      { method: 'connectionParams', data: { deviceId: 'cam-0001', secret: 'cfd_x' } },
      request('mutation', 'device.report', { ...report, status: 'installing' }),
      [request('mutation', 'device.enroll', null)],
    ],
    invalid: ['PING', { id: 1, method: 'query', params: { path: 'rollout.list', input: { json: null } } }],
  },
  ping: { valid: ['PING'], invalid: ['PONG', 'ping'] },
  pong: { valid: ['PONG'], invalid: ['PING'] },
  'register-response': {
    valid: [answer(device), { ...answer(device), jsonrpc: '2.0', id: 'r1' }],
    invalid: [answer({ ...device, online: 'yes' }), { ...answer(device), extra: 1 }],
  },
  'report-response': {
    valid: [answer({ deliveryId: DELIVERY, attempt: 1, state: 'succeeded', duplicate: true })],
    invalid: [answer(device)],
  },
  'artifact-url-response': {
    valid: [answer({ url: '/artifacts/abc', expiresAt: null })],
    invalid: [
      answer({ url: '/artifacts/abc' }),
      answer({ url: '/artifacts/abc', expiresAt: null, extra: 1 }),
    ],
  },
  'enroll-response': {
    valid: [answer({ deviceId: 'cam-0009', secret: 'cfd_x' })],
    invalid: [
      answer({ deviceId: 'cam-0009', secret: 'cfd_x', meta: 1 }),
      { id: 1, result: { type: 'data' } },
    ],
  },
  'subscription-started': {
    valid: [{ id: 2, result: { type: 'started' } }],
    invalid: [
      { id: 2, result: { type: 'stopped' } },
      { id: null, result: { type: 'started' } },
    ],
  },
  'offers-event': {
    valid: [event(offer), event(cancel, `${OFFER_ID}!cancel`)],
    invalid: [
      { id: 2, result: { type: 'data', data: { json: { id: OFFER_ID, data: offer } } } },
      { id: 2, result: { type: 'data', id: OFFER_ID, data: { json: offer } } },
      event({ ...cancel, attempt: -1 }),
    ],
  },
  'subscription-stopped': {
    valid: [{ id: 2, result: { type: 'stopped' } }],
    invalid: [{ id: 2, result: { type: 'stopped', reason: 'x' } }],
  },
  'error-response': {
    valid: [
      { id: 7, error: { json: conflict } },
      { id: null, error: { json: refused } },
      { id: null, error: { json: limited } },
      { id: 5, jsonrpc: '2.0', error: { json: invalid } },
      { id: 3, error: { json: fallback } },
    ],
    invalid: [{ error: { json: conflict } }, { id: 7, error: conflict }, { id: 7, error: { json: {} } }],
  },
  'reconnect-notice': {
    valid: [{ id: null, method: 'reconnect' }],
    invalid: [{ id: 1, method: 'reconnect' }, { method: 'reconnect' }],
  },
  'server-frame': {
    valid: [
      answer(device),
      event(offer),
      { id: 2, result: { type: 'started' } },
      { id: null, error: { json: refused } },
      { id: null, method: 'reconnect' },
    ],
    invalid: ['PONG', { id: 1, result: { type: 'data', data: { json: { anything: true } } } }],
  },
};

describe('the committed JSON Schemas judge values as zod does', () => {
  for (const { name } of PROTOCOL_SCHEMAS) {
    const { valid, invalid } = SAMPLES[name];
    it(`${name}: ${valid.length} valid, ${invalid.length} invalid`, () => {
      for (const [values, expected] of [
        [valid, true],
        [invalid, false],
      ] as const) {
        for (const value of values) {
          const shown = JSON.stringify(value);
          expect(zodAccepts(name, value), `zod on ${shown}`).toBe(expected);
          expect(schemas.problems(name, value) === null, `${name}.schema.json on ${shown}`).toBe(expected);
        }
      }
    });
  }

  it('refinements JSON Schema cannot express fail generation until written by hand', () => {
    const odd = z.object({ n: z.string().refine((text) => text.length % 2 === 0) });
    expect(() =>
      protocolJsonSchema({ name: 'odd', title: 'odd', description: '', schema: odd, io: 'input' }),
    ).toThrow(
      /odd\.schema\.json at properties\/n: a \.refine\(\)\/\.superRefine\(\) that JSON Schema cannot express/,
    );
    const narrower = z.object({ n: safeText(10).refine((text) => text !== 'forbidden') });
    expect(() =>
      protocolJsonSchema({ name: 'narrower', title: '', description: '', schema: narrower, io: 'input' }),
    ).toThrow(/narrower\.schema\.json at properties\/n/);
    // A new field with the no-control-characters rule needs nothing: the rule is recognised.
    const text = protocolJsonSchema({
      name: 'text',
      title: 'text',
      description: '',
      schema: z.object({ note: safeText(10) }),
      io: 'input',
    });
    expect(JSON.stringify(text)).toContain('No control characters');
  });
});

describe('helpers for frames on the wire', () => {
  it('takes the frames a server sends and refuses others, naming the closest schema', () => {
    schemas.checkServerText('PING');
    schemas.checkServerText(JSON.stringify(event(cancel, `${OFFER_ID}!cancel`)));
    schemas.checkServerText('{"id":null,"method":"reconnect"}');
    expect(() => schemas.checkServerText('not json')).toThrow(/neither JSON nor PING\/PONG/);
    expect(() => schemas.checkServerText(JSON.stringify(event({ ...cancel, attempt: 0 })))).toThrow(
      /closest: offers-event: .*attempt/,
    );
    schemas.checkClientText(
      JSON.stringify(request('mutation', 'device.report', { ...report, status: 'installing' })),
    );
    expect(() =>
      schemas.checkClientText(
        JSON.stringify(request('mutation', 'device.report', { ...report, status: 'failed' })),
      ),
    ).toThrow(/closest: report-request: .*error/);
    expect(() => schemas.check('device', { ...device, extra: 1 })).toThrow(/not a valid device/);
  });
});

describe('AsyncAPI document', () => {
  const doc = asyncApiDocument() as {
    asyncapi: string;
    info: { version: string };
    channels: Record<string, { address: string; messages: Record<string, unknown> }>;
    operations: Record<
      string,
      { messages: Array<{ $ref: string }>; reply?: { messages: Array<{ $ref: string }> } }
    >;
    components: { messages: Record<string, { payload: { schema: { $ref: string } } }> };
  };

  it('is AsyncAPI 3.0 for device protocol 1, one channel at /trpc?connectionParams=1', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.info.version).toBe('1');
    expect(Object.values(doc.channels).map((channel) => channel.address)).toEqual([
      '/trpc?connectionParams=1',
    ]);
  });

  it('refers only to schema files and messages that exist', () => {
    for (const [name, message] of Object.entries(doc.components.messages)) {
      const file = message.payload.schema.$ref.replace(/^\.\//, '');
      expect(documents.has(file), `${ASYNCAPI_FILE}: ${name} refers to ${file}`).toBe(true);
    }
    const channelMessages = Object.values(doc.channels).flatMap((channel) => Object.keys(channel.messages));
    for (const [name, operation] of Object.entries(doc.operations)) {
      for (const { $ref } of [...operation.messages, ...(operation.reply?.messages ?? [])]) {
        expect(channelMessages, `${name} refers to ${$ref}`).toContain($ref.split('/').pop());
      }
    }
  });

  it('has examples that the committed schemas and zod take', () => {
    for (const { schema, example } of asyncApiExamples()) {
      expect(schemas.problems(schema, example), `${schema} example`).toBeNull();
      expect(zodAccepts(schema, example), `${schema} example, zod`).toBe(true);
    }
  });
});
