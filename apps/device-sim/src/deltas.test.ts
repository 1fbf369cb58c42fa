import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeltaRef, ReportInput } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Credentials } from './credentials.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { ImageStore } from './images.js';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

/** Devices offered a zstd-patch delta: applied to the image they run, or the full artifact instead. */

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'camfleet-sim-delta-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** 2.0.0 = 1.0.0 with a region rewritten; the delta from 1.0.0, made the way the server makes it. */
async function firmware() {
  const dir = await scratchDir();
  const base = randomBytes(1024 * 1024);
  const next = Buffer.from(base);
  randomBytes(8192).copy(next, 300_000);
  const [baseFile, nextFile, deltaFile] = ['base', 'next', 'delta'].map((n) => join(dir, n)) as [
    string,
    string,
    string,
  ];
  await writeFile(baseFile, base);
  await writeFile(nextFile, next);
  execFileSync('zstd', [
    '-q',
    '-19',
    '--single-thread',
    '--long=31',
    `--patch-from=${baseFile}`,
    nextFile,
    '-o',
    deltaFile,
  ]);
  return { base, next, delta: await readFile(deltaFile), baseFile };
}

/** One provisioned device on a fake pod, keeping its images (unless `images: false`). */
async function setup(
  image: { file: string; version: string } | null,
  options: Partial<FleetOptions> & { keepImages?: boolean } = {},
) {
  const fake = new FakeFleet('enroll');
  const pod = await FakePod.start(fake);
  cleanups.push(() => pod.close());
  const images = options.keepImages === false ? null : await ImageStore.open(await scratchDir());
  const fleet = new Fleet({
    urls: [pod.url],
    devices: 1,
    credentials: Credentials.inMemory({ 'cam-0001': fake.provision('cam-0001') }),
    staggerMs: 0,
    firmwareVersion: image?.version ?? '1.0.0',
    ...(images ? { images } : {}),
    ...(images && image ? { firmwareImage: await images.adopt(image.file) } : {}),
    faults: { downloadMs: 10, applyMs: 20, rebootMs: 20 },
  });
  cleanups.push(() => fleet.stop());
  fleet.start();
  await waitFor(() => fleet.summary().connected === 1 && fake.subscribers.size === 1, {
    what: 'the device to subscribe',
  });
  return { fake, fleet, images };
}

async function offerAndFinish(
  setupResult: Awaited<ReturnType<typeof setup>>,
  fw: Awaited<ReturnType<typeof firmware>>,
) {
  const { fake, fleet } = setupResult;
  const artifact = fake.addArtifact(fw.next);
  const stored = fake.addArtifact(fw.delta);
  const delta: DeltaRef = { ...stored, format: 'zstd-patch', fromVersion: '1.0.0', baseSha256: sha(fw.base) };
  fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact, delta });
  await waitFor(
    () => fake.reportsOf('del-1').some((r) => r.status === 'installed' || r.status === 'failed'),
    {
      what: 'the final report',
    },
  );
  await waitFor(() => fleet.busy === 0, { what: 'the device to be done' });
  const reports = fake.reportsOf('del-1');
  const final = reports.at(-1) as ReportInput;
  const fetched = fake.artifactRequests.map((r) => (r.sha256 === delta.sha256 ? 'delta' : 'artifact'));
  return { final, fetched, delta };
}

describe('delta updates on the device', () => {
  it('rebuilds the image from the delta for the version it runs, and says so', async () => {
    const fw = await firmware();
    const device = await setup({ file: fw.baseFile, version: '1.0.0' });
    const { final, fetched } = await offerAndFinish(device, fw);
    expect(final).toMatchObject({ status: 'installed', delta: true });
    expect(fetched).toEqual(['delta']);
    expect(device.fleet.summary()).toMatchObject({
      installsDone: 1,
      deltaInstalls: 1,
      deltaFallbacks: 0,
      downloadBytes: fw.delta.length,
    });
    // The rebuilt image is kept: the base of the next delta.
    expect(sha(await readFile(device.images?.pathOf(sha(fw.next)) ?? ''))).toBe(sha(fw.next));
    expect(device.fleet.devices[0]?.firmwareVersion).toBe('2.0.0');
  });

  it('falls back to the full artifact in the same attempt when its image is not the delta base', async () => {
    const fw = await firmware();
    const damaged = Buffer.from(fw.base);
    damaged.fill(0, 500_000, 504_096);
    const file = join(await scratchDir(), 'damaged');
    await writeFile(file, damaged);
    const device = await setup({ file, version: '1.0.0' });
    const { final, fetched } = await offerAndFinish(device, fw);
    expect(final.status).toBe('installed');
    expect(final.delta).toBeUndefined();
    expect(fetched).toEqual(['delta', 'artifact']);
    expect(device.fleet.summary()).toMatchObject({
      installsDone: 1,
      deltaInstalls: 0,
      deltaFallbacks: 1,
      downloadBytes: fw.delta.length + fw.next.length,
    });
  });

  it('downloads the full artifact when it runs another version, or keeps no image', async () => {
    const fw = await firmware();
    for (const device of [
      await setup({ file: fw.baseFile, version: '0.9.0' }),
      await setup(null, { keepImages: false }),
    ]) {
      const { final, fetched } = await offerAndFinish(device, fw);
      expect(final.status).toBe('installed');
      expect(final.delta).toBeUndefined();
      expect(fetched).toEqual(['artifact']);
      expect(device.fleet.summary()).toMatchObject({ deltaInstalls: 0, deltaFallbacks: 0 });
    }
  });
});
