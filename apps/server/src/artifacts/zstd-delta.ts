import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStorage, StoredArtifact } from './storage.js';

/**
 * Binary deltas with zstd's `--patch-from`: the earlier image is the dictionary the new one is
 * compressed against. Chosen over bsdiff because it is a maintained tool every distribution (and
 * Yocto, Buildroot) ships, it handles images up to 2 GiB with `--long=31` in memory proportional to
 * the image (bsdiff needs ~17× the old file and a suffix sort), it is fast both ways, and a camera
 * applies it with the same `zstd` binary it may already have: `zstd -d --long=31 --patch-from=<image>`.
 */

export interface DeltaOptions {
  /** Scratch space: base, target and delta are written here while zstd works. */
  dir: string;
  /** zstd's compression level (1–19). */
  level: number;
}

/** zstd failed, or the delta did not rebuild the target. */
export class DeltaFailed extends Error {
  override readonly name = 'DeltaFailed';
}

/**
 * Makes the delta that turns artifact `baseSha256` into `targetSha256`, checks that applying it
 * rebuilds the target exactly, and stores it (content-addressed, beside the artifacts). The files
 * are streamed to and from the store; the pod holds none of them in memory.
 */
export async function makeZstdDelta(
  storage: ArtifactStorage,
  baseSha256: string,
  target: { sha256: string; size: number },
  options: DeltaOptions,
): Promise<StoredArtifact> {
  const dir = await mkdtemp(join(options.dir, 'camfleet-delta-'));
  try {
    const base = join(dir, 'base');
    const targetFile = join(dir, 'target');
    const delta = join(dir, 'delta.zst');
    await pipeline(storage.read(baseSha256), createWriteStream(base));
    await pipeline(storage.read(target.sha256), createWriteStream(targetFile));
    await zstd([
      '-q',
      '-f',
      `-${options.level}`,
      // One thread: the best patch (and zstd says nothing about tuning it).
      '--single-thread',
      '--long=31',
      `--patch-from=${base}`,
      targetFile,
      '-o',
      delta,
    ]);
    // Applied back before it is kept: a device must rebuild exactly the signed artifact.
    const rebuilt = await zstdDigest(['-d', '-q', '-c', '--long=31', `--patch-from=${base}`, delta]);
    if (rebuilt.sha256 !== target.sha256 || rebuilt.size !== target.size)
      throw new DeltaFailed(`the delta rebuilds ${rebuilt.sha256} (${rebuilt.size} bytes), not the artifact`);
    const { size } = await stat(delta);
    return await storage.put(createReadStream(delta), size);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function zstd(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    child.on('error', (error) => reject(new DeltaFailed(`cannot run zstd: ${error.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new DeltaFailed(`zstd exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

/** Runs zstd writing to stdout, and hashes what it writes. */
function zstdDigest(args: string[]): Promise<{ sha256: string; size: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    child.on('error', (error) => reject(new DeltaFailed(`cannot run zstd: ${error.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve({ sha256: hash.digest('hex'), size })
        : reject(new DeltaFailed(`zstd exited with ${code}: ${stderr.trim()}`)),
    );
  });
}
