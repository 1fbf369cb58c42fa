import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
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
    const keys = await fleet.fleetJson<{ privateKey: string; publicKey: string }>([
      'keys',
      'generate',
      '--out',
      dir,
      '--name',
      'release',
    ]);
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
      fleet?.fleetJson<{ id: string; artifact: { sha256: string; size: number } }>([
        'patch',
        'publish',
        file,
        '--name',
        'cam-fw',
        '--version',
        version,
        '--sign-key',
        keys.privateKey,
      ]);
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
