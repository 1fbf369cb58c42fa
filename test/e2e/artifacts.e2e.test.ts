import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
    const keys = await fleet.fleetJson<{ keyId: string; privateKey: string; publicKey: string }>([
      'keys',
      'generate',
      '--out',
      dir,
      '--name',
      'release',
    ]);
    const file = join(dir, 'firmware.bin');
    await writeFile(file, randomBytes(6 * 1024 * 1024));
    const patch = await fleet.fleetJson<{
      id: string;
      artifact: { sha256: string; size: number };
      signature: { keyId: string };
    }>(['patch', 'publish', file, '--name', 'cam-fw', '--version', '3.0.0', '--sign-key', keys.privateKey]);
    expect(patch.artifact.size).toBe(6 * 1024 * 1024);
    expect(patch.signature.keyId).toBe(keys.keyId);

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
    const patch = await fleet.fleetJson<{ id: string }>([
      'patch',
      'publish',
      file,
      '--name',
      'big',
      '--version',
      '1',
    ]);
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
