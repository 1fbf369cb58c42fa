import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ArtifactRef } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  artifactMismatch,
  artifactUrl,
  authorizationOf,
  DownloadError,
  type DownloadOptions,
  downloadArtifact,
  SIMULATED_DROP,
} from './download.js';
import { cutOffsets } from './faults.js';
import { ProgressThrottle } from './progress.js';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

/** downloadArtifact against the test pod's artifact endpoint. */

const BYTES = randomBytes(300_000);
const SHA = createHash('sha256').update(BYTES).digest('hex');
let fake: FakeFleet;
let pod: FakePod;
let artifact: ArtifactRef;
let secret: string;

beforeAll(async () => {
  fake = new FakeFleet('token');
  pod = await FakePod.start(fake);
  artifact = fake.addArtifact(BYTES);
  secret = fake.provision('dl-1');
  fake.offer('dl-1', 'del-dl', 1, '2.0.0', { artifact });
});

afterAll(async () => {
  await pod?.close();
});

beforeEach(() => {
  fake.artifactRequests.length = 0;
  fake.cutDownloads.length = 0;
  fake.stallDownloads.length = 0;
  fake.unansweredDownloads = 0;
  fake.tamperDownloads = false;
  fake.ignoreRanges = false;
});

function download(options: Partial<DownloadOptions> = {}) {
  const resumes: number[] = [];
  let bytes = 0;
  const done = downloadArtifact({
    artifact,
    baseUrl: () => pod.url,
    authorization: authorizationOf('dl-1', secret),
    signal: new AbortController().signal,
    backoff: () => 10,
    onResume: (from) => resumes.push(from),
    onBytes: (_received, delta) => {
      bytes += delta;
    },
    ...options,
  });
  return { done, resumes, bytes: () => bytes };
}

describe('downloadArtifact', () => {
  it('downloads the whole file in one request, hashing it as it streams', async () => {
    const { done, resumes, bytes } = download();
    await expect(done).resolves.toEqual({ sha256: SHA, size: BYTES.length, overflow: false });
    expect(resumes).toEqual([]);
    expect(bytes()).toBe(BYTES.length);
    expect(fake.artifactRequests).toMatchObject([
      { method: 'GET', sha256: SHA, deviceId: 'dl-1', range: null, status: 200, cut: false },
    ]);
  });

  it('resumes after the server cuts the connection: Range from what it has, If-Range the sha256', async () => {
    fake.cutDownloads.push(100_000, 50_000);
    const { done, resumes, bytes } = download();
    await expect(done).resolves.toEqual({ sha256: SHA, size: BYTES.length, overflow: false });
    expect(resumes).toEqual([100_000, 150_000]);
    expect(bytes()).toBe(BYTES.length);
    expect(
      fake.artifactRequests.map(({ range, ifRange, status, cut }) => ({ range, ifRange, status, cut })),
    ).toEqual([
      { range: null, ifRange: null, status: 200, cut: true },
      { range: 'bytes=100000-', ifRange: `"${SHA}"`, status: 206, cut: true },
      { range: 'bytes=150000-', ifRange: `"${SHA}"`, status: 206, cut: false },
    ]);
  });

  it('resumes after its own injected cuts', async () => {
    const { done, resumes } = download({ cuts: [1, 123_456, 299_999] });
    await expect(done).resolves.toMatchObject({ sha256: SHA, size: BYTES.length });
    expect(resumes).toEqual([1, 123_456, 299_999]);
    expect(fake.artifactRequests.map((r) => r.range)).toEqual([
      null,
      'bytes=1-',
      'bytes=123456-',
      'bytes=299999-',
    ]);
  });

  it('starts the digest over when the server answers a resume with the whole file (200)', async () => {
    fake.ignoreRanges = true;
    const { done, resumes, bytes } = download({ cuts: [200_000] });
    await expect(done).resolves.toEqual({ sha256: SHA, size: BYTES.length, overflow: false });
    expect(resumes).toEqual([200_000]);
    expect(bytes()).toBe(200_000 + BYTES.length);
    expect(fake.artifactRequests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('hands back what it got when the bytes are tampered with; the check names both digests', async () => {
    fake.tamperDownloads = true;
    const got = await download().done;
    expect(got.size).toBe(BYTES.length);
    expect(got.sha256).not.toBe(SHA);
    expect(artifactMismatch(artifact, got)).toBe(`checksum mismatch: expected ${SHA}, got ${got.sha256}`);
    expect(artifactMismatch(artifact, { sha256: SHA, size: BYTES.length, overflow: false })).toBeNull();
  });

  it('stops reading past the size it was told, and calls it a size mismatch', async () => {
    const small = { ...artifact, size: 1000 };
    const got = await download({ artifact: small }).done;
    expect(got.overflow).toBe(true);
    expect(artifactMismatch(small, got)).toBe('size mismatch: expected 1000 bytes, got more');
    expect(artifactMismatch(artifact, { sha256: SHA, size: 5, overflow: false })).toBe(
      `size mismatch: expected ${BYTES.length} bytes, got 5`,
    );
  });

  it('gives up at once on a 403 (wrong secret, or nothing offered), with the status', async () => {
    await expect(download({ authorization: authorizationOf('dl-1', 'wrong') }).done).rejects.toThrow(
      new DownloadError('download refused: HTTP 403'),
    );
    fake.provision('dl-2');
    const other = authorizationOf('dl-2', fake.secrets.get('dl-2')!);
    await expect(download({ authorization: other }).done).rejects.toThrow(/refused: HTTP 403/);
    expect(fake.artifactRequests).toHaveLength(2);
  });

  it('retries a pod that is not there, then gives up with the reason', async () => {
    const { done } = download({ baseUrl: () => 'http://127.0.0.1:1', maxFailures: 3, backoff: () => 1 });
    await expect(done).rejects.toThrow(/^download failed: .*ECONNREFUSED/);
  });

  it('takes a connection silent for stallMs as a failure', async () => {
    // The pod never answers: the socket timeout is the only thing that can end this request.
    fake.unansweredDownloads = 1;
    const { done } = download({ stallMs: 100, maxFailures: 1 });
    await expect(done).rejects.toThrow(new DownloadError('download failed: stalled for 100 ms'));
    expect(fake.artifactRequests).toMatchObject([{ range: null, status: 0 }]);
  });

  it('with watchStall, cuts a request when told it stalled, and resumes from the bytes it has', async () => {
    fake.stallDownloads.push(100_000);
    const watched: (() => void)[] = [];
    const { done, resumes, bytes } = download({ watchStall: (stalled) => watched.push(stalled) });
    // Told only once the pod really went silent: no other request can be cut.
    await waitFor(() => bytes() === 100_000, { what: 'the pod to stall' });
    watched[0]!();
    await expect(done).resolves.toEqual({ sha256: SHA, size: BYTES.length, overflow: false });
    expect(resumes).toEqual([100_000]);
    expect(watched).toHaveLength(2); // one per request
    expect(fake.artifactRequests.map((r) => r.range)).toEqual([null, 'bytes=100000-']);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const { done } = download({
      signal: controller.signal,
      onBytes: (received) => {
        if (received > 0) controller.abort();
      },
    });
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('names the injected cut', () => {
    expect(SIMULATED_DROP).toMatch(/drop/);
  });
});

describe('download helpers', () => {
  it('joins the pod base URL and the artifact path', () => {
    expect(artifactUrl('http://pod:8080', '/artifacts/ab').href).toBe('http://pod:8080/artifacts/ab');
    expect(artifactUrl('http://pod:8080/fleet/', '/artifacts/ab').href).toBe(
      'http://pod:8080/fleet/artifacts/ab',
    );
    expect(artifactUrl('http://pod:8080', 'https://cdn/x').href).toBe('https://cdn/x');
    expect(authorizationOf('cam-1', 's3cret')).toBe('Device cam-1:s3cret');
  });

  it('turns cut fractions into offsets inside the file, each past the last', () => {
    expect(cutOffsets([0.25, 0.5], 1000)).toEqual([250, 500]);
    expect(cutOffsets([0, 0.0001, 1], 1000)).toEqual([1, 999]);
    expect(cutOffsets([0.5], 1)).toEqual([]);
    expect(cutOffsets([0.5], 0)).toEqual([]);
    expect(cutOffsets([], 1000)).toEqual([]);
  });

  it('throttles progress to each quarter, or once per interval', () => {
    let now = 0;
    const throttle = new ProgressThrottle(1000, { intervalMs: 1000, now: () => now });
    const due = (bytes: number[]) => bytes.filter((b) => throttle.due(b));
    expect(due([10, 100, 200, 250, 260, 499, 500, 999, 1000])).toEqual([250, 500, 999, 1000]);
    const slow = new ProgressThrottle(1000, { intervalMs: 1000, now: () => now });
    now = 500;
    expect(slow.due(10)).toBe(false);
    now = 1000;
    expect(slow.due(20)).toBe(true);
    expect(slow.due(20)).toBe(false);
    now = 2500;
    expect(slow.due(20)).toBe(false); // nothing new
    expect(slow.due(30)).toBe(true);
    // Started over (a 200 to a resume): from there, the quarters count again.
    expect(slow.due(0)).toBe(false);
    expect(slow.due(260)).toBe(true);
  });
});

describe('downloadArtifact from a presigned (absolute) URL', () => {
  /** A stand-in object store: serves BYTES (with ranges) at `/obj?sig=fresh`, 403 for any other signature. */
  let store: Server;
  let storeUrl: string;
  const seen: Array<{ sig: string | null; headers: IncomingHttpHeaders }> = [];
  beforeAll(async () => {
    store = createServer((req, res) => {
      const sig = new URL(req.url ?? '', 'http://x').searchParams.get('sig');
      seen.push({ sig, headers: req.headers });
      if (sig !== 'fresh') return void res.writeHead(403).end('expired');
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const headers = { 'content-length': BYTES.length - from };
      if (from > 0)
        res.writeHead(206, {
          ...headers,
          'content-range': `bytes ${from}-${BYTES.length - 1}/${BYTES.length}`,
        });
      else res.writeHead(200, headers);
      res.end(BYTES.subarray(from));
    });
    await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
    storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => store.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('sends no device credential there, refreshes the URL once it is refused, and resumes on the fresh one', async () => {
    let refreshes = 0;
    const { done, resumes } = download({
      artifact: { ...artifact, url: `${storeUrl}/obj?sig=stale` },
      cuts: [100_000],
      refreshUrl: async () => {
        refreshes++;
        return `${storeUrl}/obj?sig=fresh`;
      },
    });
    await expect(done).resolves.toEqual({ sha256: SHA, size: BYTES.length, overflow: false });
    expect(refreshes).toBe(1);
    expect(resumes).toEqual([100_000]);
    expect(seen.map((s) => s.sig)).toEqual(['stale', 'fresh', 'fresh']);
    expect(
      seen.every((s) => s.headers.authorization === undefined && s.headers['if-range'] === undefined),
    ).toBe(true);
    expect(seen[2]?.headers.range).toBe('bytes=100000-');
    expect(fake.artifactRequests).toEqual([]);
  });

  it('gives up when the server refuses a fresh URL (the attempt is over)', async () => {
    const { done } = download({
      artifact: { ...artifact, url: `${storeUrl}/obj?sig=stale` },
      refreshUrl: async () => {
        throw new Error('attempt 1 is not the current attempt 2');
      },
    });
    await expect(done).rejects.toThrow('download refused: attempt 1 is not the current attempt 2');
  });
});
