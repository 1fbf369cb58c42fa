import { createHash, randomBytes } from 'node:crypto';
import type { AdminRole, AuditEntry } from '@camfleet/contracts';
import {
  OPENAPI_PATH,
  type OpenApiDocument,
  openApiDocument,
  REST_BASE,
  type RestOperation,
  restOperations,
} from '@camfleet/contracts/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentedAnswers, type RestCall, rest } from '../testing/rest.js';
import { ADMIN_TOKEN, PodUnderTest } from '../testing/wire.js';

// Webhook endpoints on loopback are allowed: the sample endpoint has no server behind it.
const suite = {} as { pod: PodUnderTest };
const tokens: Record<AdminRole, string> = { admin: ADMIN_TOKEN, operator: '', viewer: '' };
const names: Record<AdminRole, string> = { admin: 'admin', operator: 'rest-operator', viewer: 'rest-viewer' };
let answers: DocumentedAnswers;

beforeAll(async () => {
  suite.pod = await PodUnderTest.start({ FLEET_WEBHOOK_ALLOW_PRIVATE: '1' });
  for (const role of ['operator', 'viewer'] as const)
    tokens[role] = (await suite.pod.admin.client.tokens.create.mutate({ name: names[role], role })).token;
  const served = await rest(suite.pod.url, { method: 'GET', path: OPENAPI_PATH });
  answers = new DocumentedAnswers(served.body as OpenApiDocument);
});

afterAll(() => suite.pod?.close());

const call = (request: RestCall) => rest(suite.pod.url, request);
let serial = 0;
/** A loopback port nothing listens on: a ping to it fails at once, and nothing else is sent there. */
const DEAD_END = 'http://127.0.0.1:9/hooks/camfleet';
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;

/** The parts of a valid request: path parameters, and the query or the body. */
interface Sample {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

const newPatch = (pod: PodUnderTest) =>
  pod.admin.client.patch.publish.mutate({ name: 'rest-fw', version: unique('v') });
const newRollout = async (pod: PodUnderTest) =>
  pod.admin.client.rollout.create.mutate({
    patchId: (await newPatch(pod)).id,
    target: { kind: 'devices', deviceIds: ['rest-cam-1'] },
    waves: [50, 100],
    advance: 'manual',
  });
/** Two versions of a patch with artifacts, the second a small change of the first: what a delta is made of. */
const newVersions = async (pod: PodUnderTest) => {
  const base = randomBytes(64 * 1024);
  const name = unique('rest-delta');
  const publish = async (version: string, bytes: Buffer) => {
    await fetch(`${pod.url}/artifacts`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: bytes,
    });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return pod.admin.client.patch.publish.mutate({ name, version, artifact: { sha256, size: bytes.length } });
  };
  const from = await publish('1', base);
  const to = await publish('2', Buffer.concat([base, randomBytes(16)]));
  return { from: from.id, to: to.id };
};
const newWebhook = async (pod: PodUnderTest) =>
  (await pod.admin.client.webhooks.create.mutate({ url: DEAD_END, events: ['rollout.aborted'] })).id;
const newDevice = async (pod: PodUnderTest) =>
  (await pod.admin.client.devices.credentials.provision.mutate({ deviceId: unique('rest-dev') })).deviceId;

/**
 * A valid request for each operation that needs more than nothing, set up through tRPC. An
 * operation whose input needs nothing is called with nothing; a new one that needs more must be
 * added here (the test says so).
 */
const SAMPLES: Record<string, (pod: PodUnderTest) => Promise<Sample>> = {
  'patch.publish': async () => ({ body: { name: 'rest-fw', version: unique('v'), notes: 'from REST' } }),
  'patch.get': async (pod) => ({ params: { patchId: (await newPatch(pod)).id } }),
  'patch.delete': async (pod) => ({ params: { patchId: (await newPatch(pod)).id } }),
  'patch.createDelta': async (pod) => {
    const { from, to } = await newVersions(pod);
    return { params: { patchId: to }, body: { fromPatchId: from } };
  },
  'rollout.create': async (pod) => ({
    body: {
      patchId: (await newPatch(pod)).id,
      target: { kind: 'selector', selector: 'site=rest' },
      waves: [10, 100],
    },
  }),
  'rollout.preview': async () => ({ body: { target: { kind: 'selector', selector: 'site=rest' } } }),
  'rollout.get': async (pod) => ({ params: { rolloutId: (await newRollout(pod)).id } }),
  'rollout.history': async (pod) => ({ params: { rolloutId: (await newRollout(pod)).id } }),
  'rollout.cancel': async (pod) => ({
    params: { rolloutId: (await newRollout(pod)).id },
    body: { reason: 'over REST' },
  }),
  'rollout.pause': async (pod) => ({
    params: { rolloutId: (await newRollout(pod)).id },
    body: { reason: 'night shift' },
  }),
  'rollout.resume': async (pod) => {
    const { id } = await newRollout(pod);
    await pod.admin.client.rollout.pause.mutate({ rolloutId: id });
    return { params: { rolloutId: id } };
  },
  'rollout.advance': async (pod) => ({ params: { rolloutId: (await newRollout(pod)).id } }),
  'devices.list': async () => ({ query: { limit: '5', online: 'false' } }),
  'devices.get': async (pod) => ({ params: { deviceId: await newDevice(pod) } }),
  'devices.credentials.provision': async () => ({
    params: { deviceId: unique('rest-dev') },
    body: { model: 'cam-x', labels: { site: 'rest' } },
  }),
  'devices.credentials.provisionMany': async () => ({
    body: { devices: [{ deviceId: unique('rest-many') }, { deviceId: unique('rest-many'), model: 'cam-x' }] },
  }),
  'devices.credentials.rotate': async (pod) => ({ params: { deviceId: await newDevice(pod) } }),
  'devices.credentials.revoke': async (pod) => ({ params: { deviceId: await newDevice(pod) } }),
  'tokens.create': async () => ({ body: { name: unique('ci'), role: 'viewer', expiresInMs: 86_400_000 } }),
  'tokens.revoke': async (pod) => ({
    params: { id: (await pod.admin.client.tokens.create.mutate({ name: unique('old'), role: 'viewer' })).id },
  }),
  'enrollTokens.create': async () => ({ body: { name: unique('batch'), uses: 10 } }),
  'enrollTokens.revoke': async (pod) => ({
    params: { id: (await pod.admin.client.enrollTokens.create.mutate({ name: unique('old') })).id },
  }),
  'audit.list': async () => ({ query: { limit: '3' } }),
  'webhooks.create': async () => ({
    body: { url: DEAD_END, events: ['rollout.*', 'delivery.failed'], description: 'from REST' },
  }),
  'webhooks.get': async (pod) => ({ params: { id: await newWebhook(pod) } }),
  'webhooks.delete': async (pod) => ({ params: { id: await newWebhook(pod) } }),
  'webhooks.enable': async (pod) => ({ params: { id: await newWebhook(pod) } }),
  'webhooks.deliveries': async (pod) => ({ params: { id: await newWebhook(pod) }, query: { limit: '5' } }),
  'webhooks.test': async (pod) => ({ params: { id: await newWebhook(pod) } }),
};

function needsInput(op: RestOperation): boolean {
  return (op.inputSchema?.required ?? []).length > 0;
}

const fill = (path: string, params: Record<string, string> = {}) =>
  path.replace(/\{([^}]+)\}/g, (_all, name: string) => encodeURIComponent(params[name] ?? ''));

function request(op: RestOperation, sample: Sample, token: string | null): RestCall {
  return {
    method: op.method,
    path: `${REST_BASE}${fill(op.path, sample.params)}`,
    token,
    ...(sample.query ? { query: sample.query } : {}),
    ...(op.method === 'POST' ? { body: sample.body ?? {} } : {}),
  };
}

/** The sample made wrong in one field, judged by the field's JSON Schema: a 400 with issues. */
function broken(op: RestOperation, sample: Sample): Sample | null {
  const [param] = op.pathParams;
  // Every path parameter here is an id with a pattern that a lone '-' breaks.
  if (param) return { ...sample, params: { ...sample.params, [param]: '-' } };
  const fields = Object.entries(op.inputSchema?.properties ?? {});
  for (const [name, field] of fields) {
    if (typeof field !== 'object') continue;
    const types = [
      field.type,
      ...[...(field.anyOf ?? []), ...(field.oneOf ?? [])].map((part) =>
        typeof part === 'object' ? part.type : null,
      ),
    ];
    if (op.inputFrom === 'query') {
      if (types.includes('integer') || types.includes('number') || types.includes('boolean'))
        return { ...sample, query: { ...sample.query, [name]: 'not-a-value' } };
    } else if (!types.includes('boolean') && types.some((type) => type !== undefined && type !== null)) {
      return { ...sample, body: { ...(sample.body as object), [name]: true } };
    }
  }
  return null;
}

const documentedPath = (op: RestOperation) => `${REST_BASE}${op.path}`;
const method = (op: RestOperation) => op.method.toLowerCase();

/** The actor's newest audit entries, oldest first. */
async function auditOf(actor: string): Promise<AuditEntry[]> {
  return suite.pod.admin.client.audit.list.query({ actor, limit: 20 });
}

describe('every documented operation answers as documented', () => {
  for (const op of restOperations()) {
    it(`${op.method} ${documentedPath(op)} (${op.procedure}, ${op.role})`, async () => {
      const setup = SAMPLES[op.procedure];
      if (!setup && needsInput(op))
        throw new Error(`add a sample request for ${op.procedure} to SAMPLES in rest.integration.test.ts`);
      const sample = setup ? await setup(suite.pod) : {};
      const judge = async (token: string | null, expected: number, parts = sample) => {
        const reply = await call(request(op, parts, token));
        expect(reply.status, JSON.stringify(reply.body)).toBe(expected);
        expect(answers.problems(documentedPath(op), method(op), reply.status, reply.body)).toBeNull();
        return reply;
      };

      const anonymous = await judge(null, 401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
      expect(anonymous.body).toMatchObject({ code: 'UNAUTHORIZED', fleetCode: 'UNAUTHORIZED' });
      if (op.role !== 'viewer') {
        const refused = await judge(tokens.viewer, 403);
        expect(refused.body).toMatchObject({
          code: 'FORBIDDEN',
          error: `role ${op.role} required, token has viewer`,
        });
        if (op.type === 'mutation') {
          const entry = (await auditOf(names.viewer)).at(-1);
          expect(entry).toMatchObject({ action: op.procedure, role: 'viewer', ok: false });
        }
      }
      if (op.inputSchema) {
        const bad = broken(op, sample);
        expect(bad, `no way to break the input of ${op.procedure}`).not.toBeNull();
        const refused = await judge(tokens[op.role], 400, bad ?? sample);
        expect(refused.body).toMatchObject({ code: 'BAD_REQUEST', fleetCode: null });
        expect((refused.body as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
      }

      // With a token of exactly the role it needs.
      await judge(tokens[op.role], op.status);
      if (op.type === 'mutation') {
        const entry = (await auditOf(names[op.role])).at(-1);
        expect(entry).toMatchObject({ action: op.procedure, actor: names[op.role], role: op.role, ok: true });
      }
    });
  }

  it('PUT /artifacts (the upload a pipeline makes first)', async () => {
    const bytes = randomBytes(1024);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const upload = (token: string | null, headers: Record<string, string> = {}) =>
      call({
        method: 'PUT',
        path: '/artifacts',
        token,
        body: bytes,
        headers: { 'content-type': 'application/octet-stream', ...headers },
      });
    const judge = async (promise: ReturnType<typeof upload>, expected: number) => {
      const reply = await promise;
      expect(reply.status, JSON.stringify(reply.body)).toBe(expected);
      expect(answers.problems('/artifacts', 'put', reply.status, reply.body)).toBeNull();
      return reply;
    };
    await judge(upload(null), 401);
    await judge(upload(tokens.viewer), 403);
    await judge(upload(tokens.operator, { 'x-content-sha256': 'not-a-digest' }), 400);
    await judge(upload(tokens.operator, { 'x-content-sha256': 'a'.repeat(64) }), 422);
    const stored = await judge(upload(tokens.operator, { 'x-content-sha256': sha256 }), 201);
    expect(stored.body).toMatchObject({ sha256, size: 1024 });
    await judge(upload(tokens.operator), 200);
  });
});

describe('the REST adapter', () => {
  it('serves the document the source generates', async () => {
    const served = await call({ method: 'GET', path: OPENAPI_PATH });
    expect(served.status).toBe(200);
    expect(served.body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('reads query values as their fields are typed, and keeps the path over the body', async () => {
    for (let i = 0; i < 2; i++) await newRollout(suite.pod);
    const listed = await call({
      method: 'GET',
      path: `${REST_BASE}/rollouts`,
      token: tokens.viewer,
      query: { limit: '1' },
    });
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(1);
    const { id } = await newRollout(suite.pod);
    const other = await newRollout(suite.pod);
    const paused = await call({
      method: 'POST',
      path: `${REST_BASE}/rollouts/${id}/pause`,
      token: tokens.operator,
      body: { rolloutId: other.id, reason: 'path wins' },
    });
    expect(paused.body).toMatchObject({ id, status: 'paused', reason: 'path wins' });
    expect((await suite.pod.admin.client.rollout.get.query({ rolloutId: other.id })).status).toBe('active');
  });

  it('a REST call lands in the audit log as the same call over tRPC does', async () => {
    const overTrpc = await newRollout(suite.pod);
    await suite.pod.admin.client.rollout.pause.mutate({ rolloutId: overTrpc.id, reason: 'same' });
    const overRest = await newRollout(suite.pod);
    await call({
      method: 'POST',
      path: `${REST_BASE}/rollouts/${overRest.id}/pause`,
      token: ADMIN_TOKEN,
      body: { reason: 'same' },
    });
    const [trpc, rest] = (await auditOf('admin'))
      .filter((entry) => entry.action === 'rollout.pause')
      .slice(-2);
    const same = (entry: AuditEntry | undefined, rolloutId: string) => {
      const { id: _id, at: _at, input, ...rest } = entry ?? ({} as AuditEntry);
      return { ...rest, input: JSON.parse(input.replace(rolloutId, 'RO')) };
    };
    expect(same(rest, overRest.id)).toEqual(same(trpc, overTrpc.id));
  });

  it('refuses what is not an operation, a method, JSON or small enough', async () => {
    const admin = { token: ADMIN_TOKEN };
    const unknown = await call({ ...admin, method: 'GET', path: `${REST_BASE}/nothing-here` });
    expect(unknown).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', fleetCode: null } });
    const wrong = await call({ ...admin, method: 'PATCH', path: `${REST_BASE}/rollouts` });
    expect(wrong).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_SUPPORTED' } });
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    const path = `${REST_BASE}/patches`;
    const post = (body: string, type: string) =>
      call({ ...admin, method: 'POST', path, body, headers: { 'content-type': type } });
    const notJson = await post('name=x', 'text/plain');
    expect(notJson).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    const broken = await post('{"name":', 'application/json');
    expect(broken).toMatchObject({
      status: 400,
      body: { code: 'BAD_REQUEST', error: 'the body is not valid JSON' },
    });
    const huge = await call({ ...admin, method: 'POST', path, body: { notes: 'x'.repeat(3 * 1024 * 1024) } });
    expect(huge).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });
    // Each in the one error format (the document's Error schema, shared by every error answer).
    for (const reply of [unknown, wrong, notJson, broken, huge])
      expect(answers.problems(path, 'post', 400, reply.body), JSON.stringify(reply.body)).toBeNull();
  });
});

// Last: it throttles this address for admin tokens, on this pod's Redis.
describe('failed logins', () => {
  it('are throttled as over tRPC: 429 with the limit and Retry-After', async () => {
    const path = `${REST_BASE}/rollouts`;
    let reply = await call({ method: 'GET', path, token: 'not-a-token' });
    for (let tries = 0; reply.status === 401 && tries < 20; tries++)
      reply = await call({ method: 'GET', path, token: 'not-a-token' });
    expect(reply.status, JSON.stringify(reply.body)).toBe(429);
    expect(reply.body).toMatchObject({ code: 'TOO_MANY_REQUESTS', fleetCode: 'TOO_MANY_REQUESTS' });
    expect((reply.body as { limit: { name: string } }).limit.name).toMatch(/^auth_failures_per_/);
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answers.problems(path, 'get', 429, reply.body)).toBeNull();
    // The real token too, from this address: the throttle stands before any check.
    expect((await call({ method: 'GET', path, token: ADMIN_TOKEN })).status).toBe(429);
  });
});
