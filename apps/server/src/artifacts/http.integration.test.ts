import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Offer } from '@camfleet/contracts';
import { keysEverywhere, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, failure, PodUnderTest } from '../testing/wire.js';

const MiB = 1024 * 1024;
const MAX_BYTES = 24 * MiB;

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Backend {
  name: string;
  /** Pod environment for the backend; `dir` is a fresh directory the test may use. */
  env(dir: string): Record<string, string>;
  /** Uploads not finished or not cleaned up (chunk keys, temp files). */
  leftovers(t: PodUnderTest, dir: string): Promise<string[]>;
  /** Digests of the stored artifacts. */
  stored(t: PodUnderTest, dir: string): Promise<string[]>;
}

const backends: Backend[] = [
  {
    name: 'redis',
    env: () => ({}),
    leftovers: async (t) => {
      const chunks = await keysEverywhere(t.redis, 'cf:{up:*');
      const expiring = await Promise.all(
        chunks.map(async (key) => ((await t.redis.pttl(key)) > 0 ? key : null)),
      );
      return expiring.filter((key) => key !== null);
    },
    stored: async (t) =>
      (await keysEverywhere(t.redis, 'cf:{g}:artifact:*')).map((key) => key.split(':').pop() ?? ''),
  },
  {
    name: 'filesystem',
    env: (dir) => ({ FLEET_ARTIFACT_STORE: 'filesystem', FLEET_ARTIFACT_DIR: dir }),
    leftovers: async (_t, dir) => (await readdir(dir)).filter((name) => name.startsWith('.')),
    stored: async (_t, dir) => (await readdir(dir)).filter((name) => !name.startsWith('.')),
  },
];

/** A raw request whose body the test writes itself (or not at all). */
function rawRequest(
  url: string,
  options: { method: string; headers: Record<string, string | number> },
  write: (req: ReturnType<typeof request>, answered: () => boolean) => Promise<void>,
): Promise<{ status: number; body: string; continued: boolean }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    let continued = false;
    const req = request(url, options, (res) => {
      answered = true;
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(pieces).toString(), continued });
        req.destroy();
      });
    });
    req.on('continue', () => {
      continued = true;
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.flushHeaders();
    write(req, () => answered).catch(reject);
  });
}

/** Until the request can take more (or is gone, or 200 ms passed: the answer may have come). */
function drained(req: ReturnType<typeof request>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, 200);
    req.once('drain', done);
    req.once('close', done);
  });
}

describe.each(backends)('artifacts over HTTP ($name store)', (backend) => {
  let t: PodUnderTest;
  let dir: string;
  let bytes: Buffer;
  let digest: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'camfleet-artifacts-http-'));
    t = await PodUnderTest.start({ ...backend.env(dir), FLEET_ARTIFACT_MAX_BYTES: String(MAX_BYTES) });
    bytes = randomBytes(6 * MiB + 123);
    digest = sha(bytes);
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = (body: Buffer, headers: Record<string, string> = {}) =>
    fetch(`${t.url}/artifacts`, { method: 'PUT', headers: { ...admin, ...headers }, body });

  const enrolled = async (deviceId: string): Promise<string> => {
    const credentials = await t.enroll(deviceId);
    if (!('secret' in credentials)) throw new Error('enrollment gave no secret');
    return credentials.secret;
  };

  /** A connected, registered device that is being offered a patch with the artifact. */
  async function offered(deviceId: string, artifact: { sha256: string; size: number }) {
    const secret = await enrolled(deviceId);
    const device = await t.connectDevice(deviceId, { secret });
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const patch = await t.admin.client.patch.publish.mutate({
      name: 'fw',
      version: `v${Math.random().toString(36).slice(2)}`,
      artifact,
    });
    await t.admin.client.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'devices', deviceIds: [deviceId] },
    });
    const offer: Offer = await waitFor(() => device.offers.find((o) => o.patch.id === patch.id), {
      what: `the offer to ${deviceId}`,
    });
    return { device, offer, auth: `Device ${deviceId}:${secret}` };
  }

  const get = (path: string, authorization: string | null, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, { headers: { ...(authorization ? { authorization } : {}), ...headers } });

  it('takes an upload as a stream: 201 when new, 200 when the bytes are there already', async () => {
    const first = await upload(bytes);
    expect(first.status).toBe(201);
    const body = (await first.json()) as { storage: string };
    expect(body).toEqual({ sha256: digest, size: bytes.length, storage: expect.any(String) });
    expect(body.storage).toMatch(backend.name === 'redis' ? /^redis:cf:\{g\}:artifact:/ : /^filesystem:\//);
    const again = await upload(bytes, { 'x-content-sha256': digest.toUpperCase() });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ sha256: digest, size: bytes.length });
    expect(await backend.stored(t, dir)).toContain(digest);
    expect(await backend.leftovers(t, dir)).toEqual([]);
    const audit = await t.admin.client.audit.list.query({ limit: 10 });
    expect(audit.find((e) => e.action === 'artifacts.upload' && e.ok)).toBeDefined();
  });

  it('lets the device it is offered to download it: whole, ranges, a resumed download, HEAD, If-Range, 416', async () => {
    await upload(bytes);
    const { offer, auth } = await offered('cam-dl-1', { sha256: digest, size: bytes.length });
    expect(offer.patch.artifact).toEqual({ sha256: digest, size: bytes.length, url: `/artifacts/${digest}` });
    const path = offer.patch.artifact?.url ?? '';

    const whole = await get(path, auth);
    expect(whole.status).toBe(200);
    expect(Object.fromEntries(whole.headers)).toMatchObject({
      etag: `"${digest}"`,
      'accept-ranges': 'bytes',
      'content-length': String(bytes.length),
      'content-type': 'application/octet-stream',
    });
    expect(sha(Buffer.from(await whole.arrayBuffer()))).toBe(digest);

    const first = await get(path, auth, { range: 'bytes=0-99' });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-99/${bytes.length}`);
    expect(first.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await first.arrayBuffer()).equals(bytes.subarray(0, 100))).toBe(true);

    const suffix = await get(path, auth, { range: 'bytes=-1000' });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe(
      `bytes ${bytes.length - 1000}-${bytes.length - 1}/${bytes.length}`,
    );
    expect(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 1000))).toBe(true);

    // A download cut off partway, resumed from where it stopped.
    const interrupted = await get(path, auth);
    const reader = interrupted.body?.getReader();
    const received: Buffer[] = [];
    let have = 0;
    while (reader && have < 1_500_000) {
      const { value, done } = await reader.read();
      if (done) break;
      received.push(Buffer.from(value));
      have += value.length;
    }
    await reader?.cancel();
    expect(have).toBeLessThan(bytes.length);
    const rest = await get(path, auth, { range: `bytes=${have}-`, 'if-range': `"${digest}"` });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes ${have}-${bytes.length - 1}/${bytes.length}`);
    received.push(Buffer.from(await rest.arrayBuffer()));
    expect(sha(Buffer.concat(received))).toBe(digest);

    const head = await fetch(`${t.url}${path}`, { method: 'HEAD', headers: { authorization: auth } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect(head.headers.get('etag')).toBe(`"${digest}"`);
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    const staleCopy = await get(path, auth, { range: 'bytes=10-19', 'if-range': `"${'0'.repeat(64)}"` });
    expect(staleCopy.status).toBe(200);
    expect(staleCopy.headers.get('content-length')).toBe(String(bytes.length));
    expect(sha(Buffer.from(await staleCopy.arrayBuffer()))).toBe(digest);

    const unsatisfiable = await get(path, auth, { range: `bytes=${bytes.length}-` });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${bytes.length}`);

    const cached = await get(path, auth, { 'if-none-match': `"${digest}"` });
    expect(cached.status).toBe(304);
  });

  it('answers every other download with the same 403: other devices, unknown digests, bad credentials', async () => {
    const other = randomBytes(1000);
    expect((await upload(other)).status).toBe(201);
    const { device, offer, auth } = await offered('cam-dl-2', { sha256: sha(other), size: other.length });
    const secret = await enrolled('cam-dl-3');
    const bystander = await t.connectDevice('cam-dl-3', { secret });
    await bystander.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const bystanderAuth = `Device cam-dl-3:${secret}`;
    expect((await get(`/artifacts/${sha(other)}`, auth)).status).toBe(200);

    const refusals = [
      await get(`/artifacts/${sha(other)}`, bystanderAuth), // stored, but not offered to it
      await get(`/artifacts/${digest}`, auth), // stored, offered to someone else
      await get(`/artifacts/${sha(Buffer.from('nothing'))}`, auth), // not stored at all
      await get(`/artifacts/${sha(other)}`, `Device cam-dl-2:${'x'.repeat(43)}`),
      await get(`/artifacts/${sha(other)}`, 'Device cam-nobody:whatever'),
      await get(`/artifacts/${sha(other)}`, `Bearer ${ADMIN_TOKEN}`),
      await get(`/artifacts/${sha(other)}`, null),
      await get('/artifacts/..%2F..%2Fetc%2Fpasswd', auth),
      await fetch(`${t.url}/artifacts/${sha(other)}`, {
        method: 'HEAD',
        headers: { authorization: bystanderAuth },
      }),
    ];
    const bodies = await Promise.all(refusals.map((r) => r.text()));
    expect(refusals.map((r) => r.status)).toEqual(refusals.map(() => 403));
    expect(new Set(bodies.filter((b) => b !== '')).size).toBe(1);
    expect(JSON.parse(bodies[0] ?? '')).toEqual({ error: expect.any(String), code: 'FORBIDDEN' });

    // Access ends with the attempt.
    await device.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
      status: 'succeeded',
      firmwareVersion: offer.patch.version,
    });
    expect((await get(`/artifacts/${sha(other)}`, auth)).status).toBe(403);
  });

  it('takes uploads from operators only', async () => {
    const body = randomBytes(2048);
    const anonymous = await fetch(`${t.url}/artifacts`, { method: 'PUT', body });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    const wrong = await fetch(`${t.url}/artifacts`, {
      method: 'PUT',
      body,
      headers: { authorization: 'Bearer not-a-token' },
    });
    expect(wrong.status).toBe(401);
    const viewer = await t.admin.client.tokens.create.mutate({ name: 'viewer-up', role: 'viewer' });
    const byViewer = await fetch(`${t.url}/artifacts`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${viewer.token}` },
    });
    expect(byViewer.status).toBe(403);
    expect(await byViewer.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect(await backend.stored(t, dir)).not.toContain(sha(body));

    // With `Expect: 100-continue` the refusal comes before the body is sent.
    const early = await rawRequest(
      `${t.url}/artifacts`,
      { method: 'PUT', headers: { expect: '100-continue', 'content-length': body.length } },
      async () => undefined,
    );
    expect(early).toMatchObject({ status: 401, continued: false });

    const operator = await t.admin.client.tokens.create.mutate({ name: 'operator-up', role: 'operator' });
    const byOperator = await fetch(`${t.url}/artifacts`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${operator.token}` },
    });
    expect(byOperator.status).toBe(201);
  });

  it('refuses more than FLEET_ARTIFACT_MAX_BYTES with 413, announced or not, keeping nothing', async () => {
    const announced = await rawRequest(
      `${t.url}/artifacts`,
      { method: 'PUT', headers: { ...admin, 'content-length': MAX_BYTES + 1 } },
      async () => undefined,
    );
    expect(announced.status).toBe(413);
    const refusal = JSON.parse(announced.body) as { code: string; error: string };
    expect(refusal.code).toBe('TOO_LARGE');
    // The Redis store says where a file that size belongs; a store made for big files does not.
    if (backend.name === 'redis')
      expect(refusal.error).toMatch(/belong in object storage \(FLEET_ARTIFACT_STORE=s3\)/);
    else expect(refusal.error).not.toMatch(/object storage/);

    const before = await backend.stored(t, dir);
    let sent = 0;
    const streamed = await rawRequest(
      `${t.url}/artifacts`,
      { method: 'PUT', headers: { ...admin, 'transfer-encoding': 'chunked' } },
      async (req, answered) => {
        while (!answered() && sent < 2 * MAX_BYTES) {
          const piece = randomBytes(256 * 1024);
          sent += piece.length;
          if (!req.write(piece)) await drained(req);
        }
      },
    );
    expect(streamed.status).toBe(413);
    expect(sent).toBeGreaterThan(MAX_BYTES);
    await waitFor(async () => (await backend.leftovers(t, dir)).length === 0, {
      what: 'the upload cleaned up',
    });
    expect(await backend.stored(t, dir)).toEqual(before);
  });

  it('refuses content whose digest is not the announced X-Content-SHA256 (422), recording nothing', async () => {
    const body = randomBytes(3 * MiB);
    const claimed = sha(Buffer.from('something else'));
    const mismatch = await upload(body, { 'x-content-sha256': claimed });
    expect(mismatch.status).toBe(422);
    expect(await mismatch.json()).toMatchObject({
      code: 'DIGEST_MISMATCH',
      expected: claimed,
      actual: sha(body),
    });
    expect(await backend.stored(t, dir)).not.toContain(sha(body));
    expect(await backend.stored(t, dir)).not.toContain(claimed);
    expect(await backend.leftovers(t, dir)).toEqual([]);
    for (const sha256 of [claimed, sha(body)]) {
      const publish = t.admin.client.patch.publish.mutate({
        name: 'fw',
        version: `v${Math.random().toString(36).slice(2)}`,
        artifact: { sha256, size: body.length },
      });
      expect(await failure(publish)).toMatchObject({ fleet: 'NOT_FOUND' });
    }
    // A wrong claim about bytes stored already leaves them stored.
    expect((await upload(bytes)).status).toBeLessThan(300);
    expect((await upload(bytes, { 'x-content-sha256': claimed })).status).toBe(422);
    expect(await backend.stored(t, dir)).toContain(digest);

    expect((await upload(body, { 'x-content-sha256': 'not-a-digest' })).status).toBe(400);
    expect((await upload(body, { 'x-content-sha256': sha(body) })).status).toBe(201);
  });

  it('cleans up an upload the client abandons midway', async () => {
    const before = await backend.stored(t, dir);
    expect(await backend.leftovers(t, dir)).toEqual([]);
    const req = request(`${t.url}/artifacts`, { method: 'PUT', headers: admin });
    req.on('error', () => undefined);
    req.write(randomBytes(MiB));
    // Abandoned only once the pod holds part of it (chunks, a temp file): the cleanup below then has
    // something to clean up, instead of passing before the pod wrote anything.
    await waitFor(async () => (await backend.leftovers(t, dir)).length > 0, {
      what: 'the pod to store part of the upload',
    });
    req.destroy();
    await waitFor(async () => (await backend.leftovers(t, dir)).length === 0, {
      what: 'the upload cleaned up',
    });
    expect(await backend.stored(t, dir)).toEqual(before);
  });

  it('keeps the 2 MiB body limit for tRPC (artifact bytes go to /artifacts)', async () => {
    const response = await fetch(`${t.url}/trpc/patch.publish`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fw', version: '1', notes: 'x'.repeat(3 * MiB) }),
    });
    expect(response.status).toBe(413);
  });

  it('measures: download throughput of a 20 MiB artifact from one pod', async () => {
    const big = randomBytes(20 * MiB);
    const uploadStart = performance.now();
    expect((await upload(big)).status).toBe(201);
    const uploadMs = performance.now() - uploadStart;
    const { auth } = await offered('cam-perf', { sha256: sha(big), size: big.length });
    const rates: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const response = await get(`/artifacts/${sha(big)}`, auth);
      const hash = createHash('sha256');
      for await (const piece of response.body ?? []) hash.update(piece);
      const ms = performance.now() - start;
      expect(hash.digest('hex')).toBe(sha(big));
      rates.push(20 / (ms / 1000));
    }
    rates.sort((a, b) => a - b);
    console.log(
      `[artifacts] ${backend.name}: 20 MiB over loopback from one pod: download ${rates[2]?.toFixed(0)} MiB/s median` +
        ` (${rates[0]?.toFixed(0)}–${rates[4]?.toFixed(0)}), upload ${(20 / (uploadMs / 1000)).toFixed(0)} MiB/s`,
    );
  });
});
