import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * The firmware images simulated cameras run, kept on disk so that a delta can be applied to them:
 * content-addressed (`<dir>/<sha256>`), one file however many devices run it. A real camera's
 * image is its active partition; a device without a kept image simply downloads full artifacts.
 */
export class ImageStore {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<ImageStore> {
    await mkdir(dir, { recursive: true });
    return new ImageStore(dir);
  }

  pathOf(sha256: string): string {
    return join(this.dir, sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return access(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** A file name for bytes on their way in (kept, or discarded). */
  scratch(): string {
    return join(this.dir, `.part-${randomUUID()}`);
  }

  /** Verified bytes become the image `sha256` (already there: the same bytes, the scratch goes). */
  async keep(scratch: string, sha256: string): Promise<void> {
    if (await this.has(sha256)) await rm(scratch, { force: true });
    else await rename(scratch, this.pathOf(sha256));
  }

  async discard(scratch: string): Promise<void> {
    await rm(scratch, { force: true });
  }

  /** Takes a firmware image file in (the one the cameras start on); its sha256. */
  async adopt(file: string): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(file), hash);
    const sha256 = hash.digest('hex');
    if (!(await this.has(sha256))) {
      const scratch = this.scratch();
      await copyFile(file, scratch);
      await this.keep(scratch, sha256);
    }
    return sha256;
  }
}

/** What a delta rebuilt: its digest and length. */
export interface Rebuilt {
  sha256: string;
  size: number;
}

/**
 * Applies a `zstd-patch` delta to the running image (`zstd -d --long=31 --patch-from=<image>`),
 * hashing the result as it is written to `out`. Rejects when zstd fails (a corrupt delta, or an
 * image that is not the delta's base, usually shows as a checksum error instead).
 */
export function applyZstdPatch(
  image: string,
  delta: string,
  out: string,
  signal: AbortSignal,
): Promise<Rebuilt> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['-d', '-q', '-c', '--long=31', `--patch-from=${image}`, delta], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    const hash = createHash('sha256');
    let size = 0;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-1000);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    const written = pipeline(child.stdout, createWriteStream(out));
    child.on('error', reject);
    child.on('close', (code) => {
      written.then(
        () =>
          code === 0
            ? resolve({ sha256: hash.digest('hex'), size })
            : reject(new Error(`zstd exited with ${code}: ${stderr.trim() || 'no message'}`)),
        reject,
      );
    });
  });
}
