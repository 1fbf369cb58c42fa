import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PatchDelta, PatchDetail } from '@camfleet/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TestFleet } from './harness.js';

vi.setConfig({ testTimeout: 180_000 });

let fleet: TestFleet | null = null;
afterEach(async () => {
  await fleet?.down();
  fleet = null;
});

/** Peak resident memory of a process so far (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

describe('patch artifacts end to end', () => {
  it('publishes a signed file, and cameras download it over flaky links, resume, verify and install', async () => {
    fleet = await TestFleet.up(2);
    const dir = fleet.workDir;
    const keys = await fleet.signingKeys();
    const file = join(dir, 'firmware.bin');
    await writeFile(file, randomBytes(6 * 1024 * 1024));
    const patch = await fleet.publishFile(file, 'cam-fw', '3.0.0', keys.privateKey);
    expect(patch.artifact.size).toBe(6 * 1024 * 1024);
    expect(patch.signature?.keyId).toBe(keys.keyId);

    const sim = fleet.sim([
      '--devices',
      '20',
      '--apply-ms',
      '20',
      '--reboot-ms',
      '20',
      '--drop-download-rate',
      '0.5',
      '--trusted-keys',
      keys.publicKey,
      '--require-signature',
    ]);
    await fleet.waitOnline(20);
    const final = await fleet.waitSettled(await fleet.rollOutPatch(patch.id));
    expect(final.counts.succeeded).toBe(20);
    const summary = (await sim.finish()) as unknown as Record<string, number>;
    expect(summary.downloadResumes).toBeGreaterThan(0);
    expect(summary.checksumFailures).toBe(0);
    expect(summary.downloadBytes).toBeGreaterThanOrEqual(20 * 6 * 1024 * 1024);
  });

  it('measures one pod serving a 20 MiB patch to 50 cameras at once', async () => {
    fleet = await TestFleet.up(1);
    const file = join(fleet.workDir, 'big.bin');
    await writeFile(file, randomBytes(20 * 1024 * 1024));
    const patch = await fleet.publishFile(file, 'big', '1');
    const pod = fleet.pods[0]!;
    const before = await peakRss(pod.child.pid ?? 0);
    const sim = fleet.sim(['--devices', '50', '--apply-ms', '10', '--reboot-ms', '10']);
    await fleet.waitOnline(50);
    const started = Date.now();
    const final = await fleet.waitSettled(await fleet.rollOutPatch(patch.id));
    const seconds = (Date.now() - started) / 1000;
    expect(final.counts.succeeded).toBe(50);
    const peak = await peakRss(pod.child.pid ?? 0);
    const mib = (n: number) => (n / 1024 / 1024).toFixed(0);
    console.info(
      `[e2e] 50 cameras × 20 MiB from one pod: ${(1000 / seconds).toFixed(0)} MiB/s aggregate (${seconds.toFixed(1)} s incl. installs); ` +
        `pod peak RSS ${mib(peak)} MiB (was ${mib(before)} MiB before the downloads)`,
    );
    // Bounded by chunks in flight, not by file size × cameras (which would be 1000 MiB).
    expect(peak).toBeLessThan(before + 400 * 1024 * 1024);
    await sim.finish();
  });
});

/** Every pod's artifact bytes served so far, from their own metrics. */
async function servedBytes(t: TestFleet): Promise<number> {
  const counts = await Promise.all(
    t.pods.map(async (pod) => {
      const text = await (await fetch(`${pod.url}/metrics`)).text();
      return Number(/^camfleet_artifact_bytes_served_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

interface DeltaSummary {
  installsDone: number;
  deltaInstalls: number;
  deltaFallbacks: number;
  downloadBytes: number;
  checksumFailures: number;
  signatureRefusals: number;
}

describe('delta updates end to end', () => {
  it('cameras on the base version rebuild the image from a delta, the others (and a broken base) download it whole', async () => {
    fleet = await TestFleet.up(2);
    const dir = fleet.workDir;
    const keys = await fleet.signingKeys();
    // 2.0.0 is 1.0.0 with a region rewritten and a tail added: what a firmware update looks like.
    const base = randomBytes(4 * 1024 * 1024);
    const next = Buffer.concat([base, randomBytes(128 * 1024)]);
    randomBytes(64 * 1024).copy(next, 1024 * 1024);
    // A camera that says it runs 1.0.0 but whose image differs (a modified partition).
    const damaged = Buffer.from(base);
    randomBytes(4096).copy(damaged, 2 * 1024 * 1024);
    const files = {
      base: join(dir, 'fw-1.0.0.bin'),
      next: join(dir, 'fw-2.0.0.bin'),
      damaged: join(dir, 'bad.bin'),
    };
    await Promise.all([
      writeFile(files.base, base),
      writeFile(files.next, next),
      writeFile(files.damaged, damaged),
    ]);
    const publish = (file: string, version: string) =>
      fleet?.publishFile(file, 'cam-fw', version, keys.privateKey);
    const from = await publish(files.base, '1.0.0');
    const to = await publish(files.next, '2.0.0');
    if (!from || !to) throw new Error('not published');

    const delta = await fleet.fleetJson<PatchDelta>(['patch', 'delta', to.id, '--from', from.id]);
    expect(delta).toMatchObject({
      fromPatchId: from.id,
      fromVersion: '1.0.0',
      format: 'zstd-patch',
      baseSha256: from.artifact.sha256,
      targetSha256: to.artifact.sha256,
    });
    expect(delta.size).toBeLessThan(next.length / 8);
    console.info(
      `[e2e] delta 1.0.0 → 2.0.0: ${delta.size} bytes for a ${next.length}-byte image (${((100 * delta.size) / next.length).toFixed(1)} %)`,
    );
    // Asked again: the same delta, not a second one.
    expect(await fleet.fleetJson<PatchDelta>(['patch', 'delta', to.id, '--from', from.id])).toEqual(delta);
    const shown = await fleet.fleetJson<PatchDetail>(['patch', 'show', to.id]);
    expect(shown.deltas).toEqual([delta]);

    const verify = [
      '--trusted-keys',
      keys.publicKey,
      '--require-signature',
      '--apply-ms',
      '20',
      '--reboot-ms',
      '20',
    ];
    const imageDir = async (name: string) => {
      const path = join(dir, `images-${name}`);
      await mkdir(path);
      return path;
    };
    const onBase = fleet.sim([
      ...['--prefix', 'base', '--devices', '4', '--firmware', '1.0.0'],
      ...['--image-dir', await imageDir('base'), '--firmware-image', files.base],
      ...verify,
    ]);
    const older = fleet.sim([
      ...[
        '--prefix',
        'older',
        '--devices',
        '4',
        '--firmware',
        '0.9.0',
        '--image-dir',
        await imageDir('older'),
      ],
      ...verify,
    ]);
    const broken = fleet.sim([
      ...['--prefix', 'broken', '--devices', '2', '--firmware', '1.0.0'],
      ...['--image-dir', await imageDir('broken'), '--firmware-image', files.damaged],
      ...verify,
    ]);
    await fleet.waitOnline(10);
    const servedBefore = await servedBytes(fleet);
    const final = await fleet.waitSettled(await fleet.rollOutPatch(to.id), { targeted: 10 });
    expect(final.counts.succeeded).toBe(10);
    // Only the four that rebuilt the image from the delta saved bytes.
    expect(final.deltas).toEqual({ installs: 4, savedBytes: 4 * (next.length - delta.size) });
    const [a, b, c] = (await Promise.all([onBase.finish(), older.finish(), broken.finish()])) as unknown as [
      DeltaSummary,
      DeltaSummary,
      DeltaSummary,
    ];
    expect(a).toMatchObject({
      installsDone: 4,
      deltaInstalls: 4,
      deltaFallbacks: 0,
      downloadBytes: 4 * delta.size,
    });
    expect(b).toMatchObject({
      installsDone: 4,
      deltaInstalls: 0,
      deltaFallbacks: 0,
      downloadBytes: 4 * next.length,
    });
    // The delta applied to the wrong image does not rebuild the artifact: the full image, same attempt.
    expect(c).toMatchObject({
      installsDone: 2,
      deltaInstalls: 0,
      deltaFallbacks: 2,
      downloadBytes: 2 * (delta.size + next.length),
    });
    for (const summary of [a, b, c])
      expect(summary).toMatchObject({ checksumFailures: 0, signatureRefusals: 0 });
    expect((await servedBytes(fleet)) - servedBefore).toBe(
      4 * delta.size + 4 * next.length + 2 * (delta.size + next.length),
    );
  });
});
