import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Offer } from '@camfleet/contracts';
import { startTestS3, type TestS3, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, failure, PodUnderTest } from '../testing/wire.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** Long enough that a URL signed at the end of a second still works when fetched at once. */
const TTL_SECONDS = 3;

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.destroy();
});

/** The pod's artifact bytes served so far, from its own metrics. */
async function servedBytes(t: PodUnderTest): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  return Number(/^camfleet_artifact_bytes_served_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** Reads `cutAt` bytes of a GET and cuts the connection: a camera losing its network midway. */
function cutDownload(url: string, cutAt: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      const pieces: Buffer[] = [];
      let got = 0;
      res.on('data', (piece: Buffer) => {
        pieces.push(piece);
        got += piece.length;
        if (got >= cutAt) {
          req.destroy();
          resolve(Buffer.concat(pieces).subarray(0, cutAt));
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    req.end();
  });
}

async function podWith(env: Record<string, string>, prefix: string) {
  const t = await PodUnderTest.start({ ...s3.env(prefix), ...env });
  const upload = async (bytes: Buffer) =>
    fetch(`${t.url}/artifacts`, { method: 'PUT', headers: admin, body: bytes });
  /** A registered device offered a patch with the artifact. */
  const offered = async (deviceId: string, bytes: Buffer) => {
    const device = await t.registeredDevice(deviceId);
    const patch = await t.admin.client.patch.publish.mutate({
      name: 'fw',
      version: `v${Math.random().toString(36).slice(2)}`,
      artifact: { sha256: sha(bytes), size: bytes.length },
    });
    await t.admin.client.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'devices', deviceIds: [deviceId] },
      ackTimeoutMs: 60_000,
    });
    const offer: Offer = await waitFor(() => device.offers.find((o) => o.patch.id === patch.id), {
      what: `the offer to ${deviceId}`,
    });
    return { device, offer };
  };
  return { t, upload, offered };
}

describe('artifacts in S3, downloaded with presigned URLs', () => {
  let pod: Awaited<ReturnType<typeof podWith>>;
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  beforeAll(async () => {
    pod = await podWith({ FLEET_ARTIFACT_URL_TTL_SECONDS: String(TTL_SECONDS) }, 'signed/');
  });
  afterAll(async () => {
    await pod.t.close();
  });

  it('publishes through the pod into the bucket, under the sha256 only', async () => {
    const response = await pod.upload(bytes);
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({
      sha256: sha(bytes),
      size: bytes.length,
      storage: `s3://${s3.bucket}/signed/${sha(bytes)}`,
    });
    expect(await s3.bytesOnDisk(`signed/${sha(bytes)}`)).toBe(bytes.length);
    expect(await s3.bytesOnDisk('signed/uploads/', { parts: true })).toBe(0);
  });

  it('offers a presigned URL; a cut download resumes with Range from the store; no byte through the pod', async () => {
    await pod.upload(bytes);
    const before = await servedBytes(pod.t);
    const { offer } = await pod.offered('cam-s3-1', bytes);
    const url = offer.patch.artifact?.url ?? '';
    expect(url.startsWith(`${s3.endpoint}/${s3.bucket}/signed/${sha(bytes)}?`)).toBe(true);
    expect(url).toContain('X-Amz-Signature=');

    const head = await cutDownload(url, 1024 * 1024 + 5);
    const rest = await fetch(url, { headers: { range: `bytes=${head.length}-` } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(
      `bytes ${head.length}-${bytes.length - 1}/${bytes.length}`,
    );
    const whole = Buffer.concat([head, Buffer.from(await rest.arrayBuffer())]);
    expect(sha(whole)).toBe(sha(bytes));
    expect((await servedBytes(pod.t)) - before).toBe(0);
  });

  it('refreshes an expired URL through device.artifactUrl, for the current attempt only', async () => {
    const { device, offer } = await pod.offered('cam-s3-2', bytes);
    const url = offer.patch.artifact?.url ?? '';
    await waitFor(async () => (await fetch(url, { method: 'HEAD' })).status === 403, {
      what: 'the offered URL to expire',
      timeoutMs: (TTL_SECONDS + 3) * 1000,
    });
    const fresh = await device.client.device.artifactUrl.mutate({
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
    });
    expect(fresh.url).not.toBe(url);
    expect(fresh.expiresAt).toBeGreaterThan(Date.now());
    expect(fresh.expiresAt).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000 + 1000);
    const resumed = await fetch(fresh.url, { headers: { range: 'bytes=10-19' } });
    expect(resumed.status).toBe(206);
    expect(Buffer.from(await resumed.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);

    expect(
      await failure(
        device.client.device.artifactUrl.mutate({ deliveryId: offer.deliveryId, attempt: offer.attempt + 1 }),
      ),
    ).toEqual({ trpc: 'CONFLICT', fleet: 'STALE_ATTEMPT' });
  });

  it('gives no URL to a device for an artifact it was not offered', async () => {
    const { offer } = await pod.offered('cam-s3-3', bytes);
    const other = await pod.t.registeredDevice('cam-s3-4');
    expect(
      await failure(
        other.client.device.artifactUrl.mutate({ deliveryId: offer.deliveryId, attempt: offer.attempt }),
      ),
    ).toEqual({ trpc: 'FORBIDDEN', fleet: 'FORBIDDEN' });
    // Its own delivery of that rollout does not exist: nothing to sign either.
    expect(
      await failure(
        other.client.device.artifactUrl.mutate({
          deliveryId: `${offer.rolloutId}:cam-s3-4`,
          attempt: 1,
        }),
      ),
    ).toEqual({ trpc: 'NOT_FOUND', fleet: 'NOT_FOUND' });
  });

  it('makes a delta from the store, and presigns it for devices on its base version only', async () => {
    const base = randomBytes(1024 * 1024);
    const next = Buffer.concat([base, randomBytes(4096)]);
    const publish = async (version: string, file: Buffer) => {
      expect((await pod.upload(file)).ok).toBe(true);
      return pod.t.admin.client.patch.publish.mutate({
        name: 'cam-delta',
        version,
        artifact: { sha256: sha(file), size: file.length },
      });
    };
    const from = await publish('1.0.0', base);
    const to = await publish('2.0.0', next);
    const delta = await pod.t.admin.client.patch.createDelta.mutate({ patchId: to.id, fromPatchId: from.id });
    expect(await s3.bytesOnDisk(`signed/${delta.sha256}`)).toBe(delta.size);
    const onBase = await pod.t.registeredDevice('cam-s3-d1', {}, undefined, '1.0.0');
    const older = await pod.t.registeredDevice('cam-s3-d2', {}, undefined, '0.9.0');
    await pod.t.admin.client.rollout.create.mutate({
      patchId: to.id,
      target: { kind: 'devices', deviceIds: ['cam-s3-d1', 'cam-s3-d2'] },
    });
    const offerTo = (device: typeof onBase) =>
      waitFor(() => device.offers.find((o) => o.patch.id === to.id), { what: 'the offer' });
    const [offer, olderOffer] = await Promise.all([offerTo(onBase), offerTo(older)]);
    expect(olderOffer.patch.delta).toBeNull();
    expect(offer.patch.delta).toMatchObject({ sha256: delta.sha256, size: delta.size, fromVersion: '1.0.0' });
    const url = offer.patch.delta?.url ?? '';
    expect(url.startsWith(`${s3.endpoint}/${s3.bucket}/signed/${delta.sha256}?`)).toBe(true);
    expect(sha(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(delta.sha256);
    const fresh = await onBase.client.device.artifactUrl.mutate({
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
      delta: true,
    });
    expect(fresh.url).toContain(`/signed/${delta.sha256}?`);
    expect(
      await failure(
        older.client.device.artifactUrl.mutate({
          deliveryId: olderOffer.deliveryId,
          attempt: olderOffer.attempt,
          delta: true,
        }),
      ),
    ).toEqual({ trpc: 'NOT_FOUND', fleet: 'NOT_FOUND' });
  });
});

describe('artifacts in S3 with presigning off: served by the pod', () => {
  let pod: Awaited<ReturnType<typeof podWith>>;
  const bytes = randomBytes(2 * 1024 * 1024 + 3);
  beforeAll(async () => {
    pod = await podWith({ FLEET_ARTIFACT_PRESIGN: '0' }, 'pod/');
  });
  afterAll(async () => {
    await pod.t.close();
  });

  it('offers the pod URL, passes Range through to the store, and counts every byte it sends', async () => {
    expect((await pod.upload(bytes)).status).toBe(201);
    const before = await servedBytes(pod.t);
    const { device, offer } = await pod.offered('cam-pod-1', bytes);
    expect(offer.patch.artifact?.url).toBe(`/artifacts/${sha(bytes)}`);
    const secret = 'secret' in device.credentials ? device.credentials.secret : '';
    const authorization = `Device cam-pod-1:${secret}`;
    const whole = await fetch(`${pod.t.url}${offer.patch.artifact?.url}`, { headers: { authorization } });
    expect(whole.status).toBe(200);
    expect(sha(Buffer.from(await whole.arrayBuffer()))).toBe(sha(bytes));
    const tail = await fetch(`${pod.t.url}${offer.patch.artifact?.url}`, {
      headers: { authorization, range: 'bytes=100-', 'if-range': `"${sha(bytes)}"` },
    });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(100))).toBe(true);
    expect((await servedBytes(pod.t)) - before).toBe(2 * bytes.length - 100);
    // device.artifactUrl answers with the pod's URL, which does not expire.
    expect(
      await device.client.device.artifactUrl.mutate({ deliveryId: offer.deliveryId, attempt: offer.attempt }),
    ).toEqual({ url: `/artifacts/${sha(bytes)}`, expiresAt: null });
  });
});
