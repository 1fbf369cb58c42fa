import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeys, signManifest } from '@camfleet/client';
import {
  CAMERA_PY_DIR,
  type CameraEvent,
  DEBIAN_PYTHON,
  PythonCamera,
  startTestS3,
  TEST_TOKENS,
  waitFor,
} from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SigningKeys, TestFleet } from './harness.js';

/**
 * The Python reference camera (apps/camera-py), written from docs/device-protocol.md alone, against
 * real pods and Redis: beside TypeScript cameras, over a cut download, a tampered artifact, a
 * cancel, a pod killed mid-download, and a stale report.
 */

let fleet: TestFleet;
let artifactDir: string;
let keys: SigningKeys;
const cameras: PythonCamera[] = [];

beforeAll(async () => {
  artifactDir = await mkdtemp(join(tmpdir(), 'camfleet-py-artifacts-'));
  // Files on disk, shared by the pods: the tamper test changes bytes where they are stored.
  fleet = await TestFleet.up(2, {
    podEnv: { FLEET_ARTIFACT_STORE: 'filesystem', FLEET_ARTIFACT_DIR: artifactDir },
  });
  keys = await fleet.signingKeys();
});

afterAll(async () => {
  await Promise.all(cameras.map((camera) => camera.stop('SIGKILL')));
  await fleet?.down();
  await rm(artifactDir, { recursive: true, force: true });
});

/** A Python camera on the given pod URLs, enrolling with the fleet's token unless `extra` gives a secret. */
function pythonCamera(id: string, urls: string, extra: string[] = []): PythonCamera {
  const credentials = extra.includes('--secret') ? [] : ['--enroll-token', TEST_TOKENS.enroll];
  const camera = new PythonCamera([
    '--url',
    urls,
    '--id',
    id,
    '--state-dir',
    join(fleet.workDir, `state-${id}`),
    '--model',
    'py-cam',
    '--trusted-key',
    keys.publicKey,
    ...credentials,
    ...extra,
  ]);
  cameras.push(camera);
  return camera;
}

/**
 * A camera behind a proxy that holds its first download midway, with a rollout to it started: a
 * fault the test injects next lands mid-download by construction.
 */
async function heldDownload(id: string, rolloutFlags: string[] = []) {
  const patch = await publish(1024 * 1024);
  const proxy = await artifactProxy(fleet.pods[0]?.url ?? '', 'hold', 256 * 1024);
  const camera = pythonCamera(id, proxy.url);
  await camera.waitEvent((e) => e.event === 'subscribed', 'its subscription');
  const rolloutId = await fleet.rollOutPatch(patch.id, ['--devices', id, ...rolloutFlags]);
  await waitFor(() => proxy.interfered() > 0, { what: `${id}: the download held midway` });
  return { patch, proxy, camera, rolloutId };
}

/** Publishes a signed random file of `size` bytes as a new patch. */
async function publish(size: number): Promise<{ id: string; version: string; sha256: string }> {
  const file = join(fleet.workDir, `fw-${randomBytes(4).toString('hex')}.bin`);
  const bytes = randomBytes(size);
  await writeFile(file, bytes);
  const version = `2.${Date.now()}`;
  const patch = await fleet.publishFile(file, 'cam-fw', version, keys.privateKey);
  expect(patch.artifact.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  return { id: patch.id, version, sha256: patch.artifact.sha256 };
}

async function delivery(rolloutId: string, deviceId: string) {
  const detail = await fleet.admin.client.devices.get.query({ deviceId });
  return detail.deliveries.find((d) => d.rolloutId === rolloutId) ?? null;
}

function waitDelivery(rolloutId: string, deviceId: string, states: string[], what: string) {
  return waitFor(
    async () => {
      const found = await delivery(rolloutId, deviceId);
      return found && states.includes(found.state) ? found : null;
    },
    { timeoutMs: 90_000, what: `${deviceId}: ${what}` },
  );
}

const isReport =
  (status: string, extra: (e: CameraEvent) => boolean = () => true) =>
  (e: CameraEvent) =>
    e.event === 'report' && e.status === status && extra(e);

describe('the Python reference camera against real pods', () => {
  it('passes its own unit tests (frames, signatures, backoff, ranged downloads)', async () => {
    const run = spawnSync(DEBIAN_PYTHON, ['-m', 'unittest', 'discover', '-s', 'tests'], {
      cwd: CAMERA_PY_DIR,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Ran [1-9]\d* tests?/);
  });

  it('takes part in a rollout beside TypeScript cameras: enrolled, provisioned, and one that restarts to prove its version', async () => {
    const patch = await publish(300 * 1024);
    const sim = fleet.sim(['--devices', '3', '--prefix', 'ts', '--apply-ms', '20', '--reboot-ms', '20']);
    const provisioned = await fleet.admin.client.devices.credentials.provision.mutate({
      deviceId: 'py-prov',
    });
    const python = [
      pythonCamera('py-enrolled', fleet.urls),
      pythonCamera('py-prov', fleet.urls, ['--secret', provisioned.secret]),
      pythonCamera('py-reboot', fleet.urls, ['--reboot']),
    ];
    await fleet.waitOnline(6);
    const devices = ['ts-0001', 'ts-0002', 'ts-0003', 'py-enrolled', 'py-prov', 'py-reboot'];
    const rolloutId = await fleet.rollOutPatch(patch.id, ['--devices', devices.join(',')]);
    const final = await fleet.waitSettled(rolloutId, { targeted: 6 });
    expect(final.counts.succeeded).toBe(6);

    for (const camera of python) {
      const outcome = await camera.waitEvent((e) => e.event === 'outcome', 'its outcome');
      expect(outcome.status).toMatch(/succeeded|installed/);
    }
    // The restarting camera reported `installed`, then registered with the new version.
    const rebooted = python[2];
    await rebooted?.waitEvent(isReport('installed'), 'an installed report');
    await rebooted?.waitEvent(
      (e) => e.event === 'registered' && e.firmwareVersion === patch.version,
      'registering the new version',
    );
    for (const id of ['py-enrolled', 'py-prov', 'py-reboot']) {
      const detail = await fleet.admin.client.devices.get.query({ deviceId: id });
      expect(detail.device.firmwareVersion).toBe(patch.version);
      const installed = await readFile(join(fleet.workDir, `state-${id}`, 'installed.bin'));
      expect(createHash('sha256').update(installed).digest('hex')).toBe(patch.sha256);
    }
    await sim.finish();
    for (const camera of python) expect(await camera.stop()).toBe(0);
  });

  it('resumes a download that a network cut off midway, with Range, and installs the right bytes', async () => {
    const patch = await publish(2 * 1024 * 1024);
    const proxy = await artifactProxy(fleet.pods[0]?.url ?? '', 'cut', 512 * 1024);
    const camera = pythonCamera('py-cut', proxy.url);
    await camera.waitEvent((e) => e.event === 'subscribed', 'its subscription');
    const rolloutId = await fleet.rollOutPatch(patch.id, ['--devices', 'py-cut']);
    await fleet.waitSettled(rolloutId, { targeted: 1 });
    expect(proxy.interfered()).toBe(1);
    const resumed = camera.named('download').filter((e) => Number(e.resumedFrom) > 0);
    expect(resumed.length).toBeGreaterThan(0);
    expect(await delivery(rolloutId, 'py-cut')).toMatchObject({ state: 'succeeded', attempt: 1 });
    await camera.stop();
    await proxy.close();
  });

  it('keeps an attempt alive through a download longer than its ack timeout, by its progress reports', async () => {
    const patch = await publish(1024 * 1024);
    const camera = pythonCamera('py-slow', fleet.urls, ['--download-rate', String(96 * 1024)]);
    await camera.waitEvent((e) => e.event === 'subscribed', 'its subscription');
    const rolloutId = await fleet.rollOutPatch(patch.id, ['--devices', 'py-slow', '--ack-timeout', '6s']);
    const done = await waitDelivery(rolloutId, 'py-slow', ['succeeded'], 'succeeded');
    expect(done).toMatchObject({ attempt: 1, failures: 0 });
    const reports = camera.named('report').filter((e) => e.status === 'downloading');
    // Longer than the ack timeout: only the progress reports kept the attempt's deadline ahead.
    expect(Number(reports.at(-1)?.t) - Number(reports[0]?.t)).toBeGreaterThan(6_000);
    await camera.stop();
  });

  it('refuses an artifact whose stored bytes were tampered with, and one whose signature does not verify', async () => {
    const patch = await publish(64 * 1024);
    const stored = join(artifactDir, patch.sha256);
    const bytes = await readFile(stored);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(stored, bytes);
    const camera = pythonCamera('py-tamper', fleet.urls);
    await camera.waitEvent((e) => e.event === 'subscribed', 'its subscription');
    const tampered = await fleet.rollOutPatch(patch.id, ['--devices', 'py-tamper', '--max-attempts', '1']);
    const failed = await waitDelivery(tampered, 'py-tamper', ['failed'], 'the tampered delivery failed');
    expect(failed.lastError ?? '').toMatch(/checksum|sha-?256|digest|hash/i);

    // Signed by a key the camera does not pin, under the keyId of one it does: invalid.
    const forger = generateSigningKeys();
    const manifest = { name: 'cam-fw', version: `3.${Date.now()}`, sha256: patch.sha256, size: 64 * 1024 };
    await writeFile(
      stored,
      bytes.map((b, i) => (i === 100 ? b ^ 0xff : b)),
    );
    const forged = await fleet.admin.client.patch.publish.mutate({
      name: manifest.name,
      version: manifest.version,
      artifact: { sha256: manifest.sha256, size: manifest.size },
      signature: { ...signManifest(manifest, forger.privateKeyPem), keyId: keys.keyId },
    });
    const forgedRollout = await fleet.rollOutPatch(forged.id, [
      '--devices',
      'py-tamper',
      '--max-attempts',
      '1',
    ]);
    const refused = await waitDelivery(forgedRollout, 'py-tamper', ['failed'], 'the forged delivery failed');
    expect(refused.lastError ?? '').toMatch(/signature/i);
    expect(camera.named('download').filter((e) => e.deliveryId === refused.deliveryId)).toEqual([]);
    await expect(readFile(join(fleet.workDir, 'state-py-tamper', 'installed.bin'))).rejects.toThrow();
    await camera.stop();
  });

  it('honours a cancel that arrives mid-download with a canceled report, and deletes the partial file', async () => {
    const { patch, proxy, camera, rolloutId } = await heldDownload('py-cancel');
    await fleet.admin.client.rollout.cancel.mutate({ rolloutId });
    await camera.waitEvent((e) => e.event === 'cancel', 'the cancel request');
    const canceled = await waitDelivery(rolloutId, 'py-cancel', ['canceled'], 'canceled');
    expect(canceled.attempt).toBe(1);
    const detail = await fleet.admin.client.devices.get.query({ deviceId: 'py-cancel' });
    const byDevice = detail.history.find((h) => h.rolloutId === rolloutId && h.to === 'canceled');
    expect(byDevice?.error ?? '').toMatch(/by the device/);
    await camera.waitEvent(isReport('canceled'), 'its canceled report');
    await expect(readFile(join(fleet.workDir, 'state-py-cancel', `${patch.sha256}.part`))).rejects.toThrow();
    await camera.stop();
    await proxy.close();
  });

  it('drops an attempt that timed out once its report is refused as STALE_ATTEMPT, and finishes the next attempt', async () => {
    // A backoff far longer than the test: attempt 2 comes only when the test moves the time.
    const { proxy, camera, rolloutId } = await heldDownload('py-stale', [
      '--retry-base',
      '1h',
      '--retry-max',
      '1h',
    ]);
    await fleet.passDeadline(rolloutId, 'py-stale');
    await waitDelivery(rolloutId, 'py-stale', ['queued'], 'attempt 1 timed out');
    proxy.release();
    const stale = await camera.waitEvent(
      (e) => e.event === 'report' && e.attempt === 1 && e.errorCode === 'STALE_ATTEMPT',
      'a report of attempt 1 refused as stale',
    );
    expect(stale.deliveryId).toBe(`${rolloutId}:py-stale`);
    await camera.waitEvent(
      (e) => e.event === 'outcome' && e.attempt === 1 && e.status === 'stale',
      'attempt 1 dropped',
    );
    await fleet.passRetryBackoff(rolloutId, 'py-stale');
    const done = await waitDelivery(rolloutId, 'py-stale', ['succeeded'], 'attempt 2 succeeded');
    expect(done.attempt).toBe(2);
    await camera.stop();
    await proxy.close();
  });

  it('downloads from the object store with a presigned URL, and takes a fresh one when it expired mid-download', async () => {
    const s3 = await startTestS3();
    // The store behind a proxy that holds the camera's download midway (its request line names the bucket).
    const proxy = await artifactProxy(s3.endpoint, 'hold', 256 * 1024, `GET /${s3.bucket}/`);
    const ttlSeconds = 2;
    const s3Fleet = await TestFleet.up(1, {
      podEnv: {
        ...s3.env(),
        FLEET_S3_ENDPOINT: proxy.url,
        FLEET_ARTIFACT_URL_TTL_SECONDS: String(ttlSeconds),
      },
    });
    try {
      const file = join(s3Fleet.workDir, 'fw.bin');
      const bytes = randomBytes(1024 * 1024);
      await writeFile(file, bytes);
      const patch = await s3Fleet.fleetJson<{ id: string; artifact: { sha256: string } }>([
        'patch',
        'publish',
        file,
        '--name',
        'cam-fw',
        '--version',
        '5.0.0',
      ]);
      const camera = new PythonCamera([
        '--url',
        s3Fleet.urls,
        '--id',
        'py-s3',
        '--enroll-token',
        TEST_TOKENS.enroll,
        '--state-dir',
        join(s3Fleet.workDir, 'state-py-s3'),
      ]);
      cameras.push(camera);
      await camera.waitEvent((e) => e.event === 'subscribed', 'its subscription');
      const rolloutId = await s3Fleet.rollOutPatch(patch.id, ['--devices', 'py-s3']);
      await waitFor(() => proxy.interfered() > 0, { what: 'the presigned download held midway' });
      const heldAt = Date.now();
      // The URL's lifetime passes while the download is held, then the connection breaks.
      await waitFor(() => Date.now() > heldAt + ttlSeconds * 1000 + 1_000, { what: 'the URL to expire' });
      proxy.cutHeld();
      const done = await waitFor(
        async () => {
          const { deliveries } = await s3Fleet.admin.client.devices.get.query({ deviceId: 'py-s3' });
          const found = deliveries.find((d) => d.rolloutId === rolloutId);
          return found?.state === 'succeeded' ? found : null;
        },
        { timeoutMs: 60_000, what: 'the delivery to succeed after a fresh URL' },
      );
      expect(done.attempt).toBe(1);
      const downloads = camera.named('download');
      expect(downloads.some((e) => e.cut === '403')).toBe(true);
      expect(downloads.some((e) => Number(e.resumedFrom) > 0 && e.complete === true)).toBe(true);
      const installed = await readFile(join(s3Fleet.workDir, 'state-py-s3', 'installed.bin'));
      expect(createHash('sha256').update(installed).digest('hex')).toBe(patch.artifact.sha256);
      await camera.stop();
    } finally {
      await proxy.close();
      await s3Fleet.down();
      await s3.destroy();
    }
  });

  it('survives its pod killed mid-download: reconnects to the other pod and resumes there', async () => {
    const patch = await publish(1536 * 1024);
    const [first, second] = fleet.pods;
    const proxy = await artifactProxy(first?.url ?? '', 'hold', 512 * 1024);
    // Provisioned: its first connection (through the proxy) is the one that downloads.
    const { secret } = await fleet.admin.client.devices.credentials.provision.mutate({
      deviceId: 'py-failover',
    });
    const camera = pythonCamera('py-failover', `${proxy.url},${second?.url}`, ['--secret', secret]);
    await camera.waitEvent((e) => e.event === 'subscribed', 'its subscription');
    const rolloutId = await fleet.rollOutPatch(patch.id, ['--devices', 'py-failover']);
    await waitFor(() => proxy.interfered() > 0, { what: 'the download held midway' });
    await first?.kill('SIGKILL');
    await waitFor(async () => (await fleet.status(rolloutId)).status === 'completed', {
      timeoutMs: 120_000,
      what: 'the rollout to complete on the surviving pod',
    });
    expect(await delivery(rolloutId, 'py-failover')).toMatchObject({ state: 'succeeded' });
    expect(camera.named('connecting').some((e) => e.url === second?.url)).toBe(true);
    const downloads = camera.named('download');
    expect(downloads.some((e) => e.complete === false)).toBe(true);
    expect(downloads.some((e) => Number(e.resumedFrom) > 0 && e.complete === true)).toBe(true);
    await camera.stop();
    await proxy.close();
  });
});

/**
 * A TCP proxy in front of a pod that interferes with the first artifact download it carries, once
 * `after` bytes of the answer went through: `cut` breaks the connection (the camera sees a real
 * network cut); `hold` stops forwarding until `release()`, so a test acts while the camera is
 * certainly mid-download.
 */
async function artifactProxy(
  target: string,
  mode: 'cut' | 'hold',
  after: number,
  /** The start of the request line of a download (a pod's, by default). */
  downloadPrefix = 'GET /artifacts/',
) {
  const { hostname, port } = new URL(target);
  let interfered = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const sockets = new Set<Socket>();
  /** The held download's sockets. */
  const held = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let download = false;
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      if (interfered === 0 && chunk.toString('latin1').startsWith(downloadPrefix)) download = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (!download || sent <= after || (interfered > 0 && mode === 'cut')) return void client.write(chunk);
      if (interfered === 0) interfered++;
      if (mode === 'cut') return end();
      upstream.pause();
      held.add(client).add(upstream);
      void released.then(() => {
        client.write(chunk);
        upstream.resume();
      });
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    /** Downloads cut or held so far (at most one). */
    interfered: () => interfered,
    release: () => release(),
    /** Breaks the held download's connection (the camera sees a cut); later downloads pass. */
    cutHeld: () => {
      for (const socket of held) socket.destroy();
      held.clear();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
