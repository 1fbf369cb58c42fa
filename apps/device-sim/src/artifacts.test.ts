import { randomBytes } from 'node:crypto';
import { generateSigningKeys, signManifest } from '@camfleet/client';
import type { ArtifactRef, Offer, ReportInput } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Credentials } from './credentials.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

/** Devices downloading real artifacts from a test pod, verifying digests and signatures. */

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One provisioned device (cam-0001) on a test pod, registered and subscribed. */
async function setup(options: Partial<FleetOptions> = {}) {
  const fake = new FakeFleet('enroll');
  const pod = await FakePod.start(fake);
  cleanups.push(() => pod.close());
  const fleet = new Fleet({
    urls: [pod.url],
    devices: 1,
    credentials: Credentials.inMemory({ 'cam-0001': fake.provision('cam-0001') }),
    staggerMs: 0,
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
    faults: { downloadMs: 10, applyMs: 20, rebootMs: 20, ...options.faults },
  });
  cleanups.push(() => fleet.stop());
  fleet.start();
  await waitFor(() => fleet.summary().connected === 1 && fake.subscribers.size === 1, {
    what: 'the device to subscribe',
  });
  return { fake, fleet };
}

/**
 * Waits for the delivery's final report, and for the device to be done with it: the pod records a
 * report before the device has its answer (and counts the outcome), so the fleet must settle too.
 * Returns every report of it.
 */
async function finished(fake: FakeFleet, fleet: Fleet, deliveryId: string): Promise<ReportInput[]> {
  const final = ['installed', 'succeeded', 'failed', 'canceled'];
  await waitFor(() => fake.reportsOf(deliveryId).some((r) => final.includes(r.status)), {
    what: `a final report for ${deliveryId}`,
  });
  await waitFor(() => fleet.busy === 0, { what: `the device to be done with ${deliveryId}` });
  return fake.reportsOf(deliveryId);
}

const statuses = (reports: ReportInput[]) => reports.map((r) => r.status);
const downloading = (reports: ReportInput[]) => reports.filter((r) => r.status === 'downloading');

describe('artifact downloads', () => {
  it('downloads the artifact, reports throttled byte progress, verifies it, installs', async () => {
    const { fake, fleet } = await setup();
    const bytes = randomBytes(4 * 1024 * 1024);
    const artifact = fake.addArtifact(bytes);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    const reports = await finished(fake, fleet, 'del-1');

    expect(statuses(reports).filter((s) => s !== 'downloading')).toEqual(['installing', 'installed']);
    const progress = downloading(reports);
    // Not per chunk: the start, each quarter (and at most one per second besides).
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(8);
    expect(progress[0]).toMatchObject({ bytes: 0, progress: 0 });
    expect(progress.at(-1)).toMatchObject({ bytes: bytes.length, progress: 50 });
    const counts = progress.map((r) => r.bytes ?? -1);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(fake.artifactRequests).toMatchObject([{ method: 'GET', deviceId: 'cam-0001', range: null }]);
    expect(fleet.summary()).toMatchObject({
      installsDone: 1,
      installsFailed: 0,
      downloadBytes: bytes.length,
      downloadResumes: 0,
      checksumFailures: 0,
    });
  });

  it('with --drop-download-rate 1 the connection is cut part-way: it resumes with Range and still verifies', async () => {
    const { fake, fleet } = await setup({ faults: { dropDownloadRate: 1 } });
    const bytes = randomBytes(1024 * 1024);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact: fake.addArtifact(bytes) });
    const reports = await finished(fake, fleet, 'del-1');

    expect(reports.at(-1)?.status).toBe('installed');
    const requests = fake.artifactRequests;
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(requests[0]).toMatchObject({ range: null, ifRange: null, status: 200 });
    let previous = 0;
    for (const request of requests.slice(1)) {
      const from = Number(/^bytes=(\d+)-$/.exec(request.range ?? '')?.[1]);
      expect(from).toBeGreaterThan(previous);
      expect(from).toBeLessThan(bytes.length);
      expect(request).toMatchObject({ ifRange: `"${requests[0]!.sha256}"`, status: 206 });
      previous = from;
    }
    const summary = fleet.summary();
    expect(summary.downloadResumes).toBe(requests.length - 1);
    expect(summary).toMatchObject({ installsDone: 1, checksumFailures: 0 });
    // The cut part of a response may have been in flight: at least the file, never much less.
    expect(summary.downloadBytes).toBeGreaterThanOrEqual(bytes.length);
  });

  it('resumes when the server cuts the connection, and sends Range from the bytes it has', async () => {
    const { fake, fleet } = await setup();
    const bytes = randomBytes(500_000);
    const artifact = fake.addArtifact(bytes);
    fake.cutDownloads.push(123_456);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    const reports = await finished(fake, fleet, 'del-1');

    expect(reports.at(-1)?.status).toBe('installed');
    expect(fake.artifactRequests.map(({ range, ifRange, status }) => ({ range, ifRange, status }))).toEqual([
      { range: null, ifRange: null, status: 200 },
      { range: 'bytes=123456-', ifRange: `"${artifact.sha256}"`, status: 206 },
    ]);
    expect(fleet.summary()).toMatchObject({
      downloadResumes: 1,
      downloadBytes: bytes.length,
      installsDone: 1,
    });
  });

  it('reports "failed" with both digests when the bytes do not match, and does not install', async () => {
    const { fake, fleet } = await setup();
    const artifact = fake.addArtifact(randomBytes(200_000));
    fake.tamperDownloads = true;
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    const reports = await finished(fake, fleet, 'del-1');

    expect(statuses(reports)).not.toContain('installing');
    const failed = reports.at(-1);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatch(
      new RegExp(`^checksum mismatch: expected ${artifact.sha256}, got [a-f0-9]{64}$`),
    );
    expect(failed?.error).not.toContain(`got ${artifact.sha256}`);
    await waitFor(() => fleet.busy === 0);
    expect(fleet.summary()).toMatchObject({ checksumFailures: 1, installsFailed: 1, installsDone: 0 });
    expect(fleet.summary().firmware).toEqual({ '1.0.0': 1 });
    expect(fleet.records()[0]?.completed).toMatchObject([{ outcome: 'failed', reason: failed?.error }]);
  });

  it('reports "failed" when the pod refuses the download (403)', async () => {
    const { fake, fleet } = await setup();
    // An artifact the pod does not have: the test endpoint answers 403, as the pod does.
    const artifact: ArtifactRef = { sha256: 'a'.repeat(64), size: 10, url: `/artifacts/${'a'.repeat(64)}` };
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    const reports = await finished(fake, fleet, 'del-1');
    expect(reports.at(-1)).toMatchObject({ status: 'failed', error: 'download refused: HTTP 403' });
  });

  it('keeps the simulated download time for an offer without an artifact', async () => {
    const { fake, fleet } = await setup({ faults: { dropDownloadRate: 1 } });
    fake.offer('cam-0001', 'del-1');
    const reports = await finished(fake, fleet, 'del-1');
    expect(statuses(reports)).toEqual(['downloading', 'installing', 'installed']);
    expect(reports[0]).not.toHaveProperty('bytes');
    expect(fake.artifactRequests).toEqual([]);
    expect(fleet.summary()).toMatchObject({ downloadBytes: 0, downloadResumes: 0 });
  });

  it('cuts and resumes a connection that stalls mid-body', async () => {
    // The stall is declared, not timed: a short stall timeout would also cut a request that a loaded
    // machine is merely slow to serve. Only the request the pod stalled is cut, once it went silent.
    // (download.test.ts covers the socket timeout that declares it in production.)
    const watched: (() => void)[] = [];
    const { fake, fleet } = await setup({ downloadStallWatch: (stalled) => watched.push(stalled) });
    const artifact = fake.addArtifact(randomBytes(100_000));
    fake.stallDownloads.push(40_000);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    await waitFor(() => fleet.summary().downloadBytes === 40_000, { what: 'the download to stall' });
    watched[0]!();
    expect((await finished(fake, fleet, 'del-1')).at(-1)?.status).toBe('installed');
    expect(fake.artifactRequests.map((r) => r.range)).toEqual([null, 'bytes=40000-']);
    expect(fleet.summary()).toMatchObject({ downloadResumes: 1, downloadBytes: 100_000 });
  });

  it('honours a cancel request mid-download', async () => {
    const { fake, fleet } = await setup();
    const artifact = fake.addArtifact(randomBytes(100_000));
    fake.stallDownloads.push(30_000);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    await waitFor(() => fleet.summary().downloadBytes === 30_000, { what: 'the download to stall' });
    // And its report of the first quarter landed: a cancel would abort that report in flight.
    await waitFor(() => downloading(fake.reportsOf('del-1')).some((r) => (r.bytes ?? 0) >= 25_000), {
      what: 'the first quarter reported',
    });
    fake.cancel('cam-0001', 'del-1');
    const reports = await finished(fake, fleet, 'del-1');
    expect(statuses(reports).filter((s) => s !== 'downloading')).toEqual(['canceled']);
    // Past the first quarter: reported (where exactly depends on how the bytes arrived).
    expect(downloading(reports).at(-1)?.bytes).toBeGreaterThanOrEqual(25_000);
    await waitFor(() => fleet.busy === 0);
    expect(fleet.summary()).toMatchObject({ cancelsAccepted: 1, downloadBytes: 30_000, installsDone: 0 });
  });
});

describe('signatures', () => {
  const oldKey = generateSigningKeys();
  const newKey = generateSigningKeys();
  const strangerKey = generateSigningKeys();

  /** Offers a signed patch (the manifest signed as given: `signed` overrides what was signed). */
  function offerSigned(
    fake: FakeFleet,
    deliveryId: string,
    key: { privateKeyPem: string } | null,
    signed: Partial<{ name: string; version: string }> = {},
  ): Offer {
    const artifact = fake.addArtifact(randomBytes(50_000));
    const manifest = {
      name: signed.name ?? 'camera-fw',
      version: signed.version ?? '2.0.0',
      sha256: artifact.sha256,
      size: artifact.size,
    };
    const signature = key ? signManifest(manifest, key.privateKeyPem) : null;
    return fake.offer('cam-0001', deliveryId, 1, '2.0.0', { name: 'camera-fw', artifact, signature });
  }

  const policy = (keys: { publicKeyPem: string }[], requireSignature: boolean) => ({
    signatures: { trustedKeys: keys.map((k) => k.publicKeyPem), requireSignature },
  });

  it('installs a patch signed by a trusted key, with --require-signature', async () => {
    const { fake, fleet } = await setup(policy([oldKey], true));
    offerSigned(fake, 'del-1', oldKey);
    expect((await finished(fake, fleet, 'del-1')).at(-1)?.status).toBe('installed');
    expect(fleet.summary()).toMatchObject({ signatureRefusals: 0, installsDone: 1 });
  });

  it('refuses an unsigned patch with --require-signature, before downloading anything', async () => {
    const { fake, fleet } = await setup(policy([oldKey], true));
    offerSigned(fake, 'del-1', null);
    const reports = await finished(fake, fleet, 'del-1');
    expect(reports).toMatchObject([{ status: 'failed', error: 'signature unsigned' }]);
    expect(fake.artifactRequests).toEqual([]);
    await waitFor(() => fleet.busy === 0);
    expect(fleet.summary()).toMatchObject({ signatureRefusals: 1, installsFailed: 1, installsDone: 0 });
  });

  it('installs an unsigned patch without --require-signature, keys configured or not', async () => {
    const { fake, fleet } = await setup(policy([oldKey], false));
    offerSigned(fake, 'del-1', null);
    expect((await finished(fake, fleet, 'del-1')).at(-1)?.status).toBe('installed');
    expect(fleet.summary().signatureRefusals).toBe(0);
  });

  it('refuses a tampered manifest (the offer says another version than was signed), required or not', async () => {
    for (const required of [false, true]) {
      const { fake, fleet } = await setup(policy([oldKey], required));
      offerSigned(fake, 'del-1', oldKey, { version: '1.9.9' });
      expect(await finished(fake, fleet, 'del-1')).toMatchObject([
        { status: 'failed', error: 'signature invalid' },
      ]);
      expect(fake.artifactRequests).toEqual([]);
      await waitFor(() => fleet.busy === 0);
      expect(fleet.summary()).toMatchObject({ signatureRefusals: 1, installsDone: 0 });
    }
  });

  it('refuses a patch signed by a key it does not trust, with --require-signature', async () => {
    const { fake, fleet } = await setup(policy([oldKey], true));
    offerSigned(fake, 'del-1', strangerKey);
    expect(await finished(fake, fleet, 'del-1')).toMatchObject([
      { status: 'failed', error: 'signature unknown-key' },
    ]);
    await waitFor(() => fleet.busy === 0);
    expect(fleet.summary().signatureRefusals).toBe(1);
  });

  it('trusts several keys: patches signed by the old and the new key both install (rotation)', async () => {
    const { fake, fleet } = await setup(policy([oldKey, newKey], true));
    offerSigned(fake, 'del-old', oldKey);
    expect((await finished(fake, fleet, 'del-old')).at(-1)?.status).toBe('installed');
    await waitFor(() => fleet.busy === 0, { what: 'the restart' });
    offerSigned(fake, 'del-new', newKey);
    expect((await finished(fake, fleet, 'del-new')).at(-1)?.status).toBe('installed');
    await waitFor(() => fleet.busy === 0, { what: 'the restart' });
    expect(fleet.summary()).toMatchObject({ signatureRefusals: 0, installsDone: 2 });
  });
});
