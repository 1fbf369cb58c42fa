import { randomUUID } from 'node:crypto';
import { access, type FileHandle, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ArtifactNotFound, isSha256, MeteredUpload, resolveRange } from './common.js';
import { DEFAULT_CHUNK_BYTES } from './redis-storage.js';
import type { ArtifactStorage, ByteRange, StoredArtifact } from './storage.js';

const TEMP_PREFIX = '.upload-';
const TEMP_SUFFIX = '.tmp';
/** Temp files older than this are leftovers of a pod that died mid-upload (uploads take minutes at most). */
const STALE_TEMP_MS = 60 * 60 * 1000;

const errnoOf = (error: unknown): string | undefined =>
  error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;

/**
 * Artifacts as files named `<sha256>` in one directory, which several pods may share (a
 * ReadWriteMany volume). An upload streams to a temp file in that directory while it is hashed,
 * is fsynced, and then appears under its digest atomically; a partial file is never visible.
 */
export class FsArtifactStorage implements ArtifactStorage {
  readonly kind = 'filesystem' as const;
  readonly dir: string;
  readonly chunkBytes: number;

  private constructor(dir: string, chunkBytes: number) {
    this.dir = dir;
    this.chunkBytes = chunkBytes;
  }

  /** Creates the directory if needed and removes temp files that uploads left behind long ago. */
  static async open(dir: string, options: { chunkBytes?: number } = {}): Promise<FsArtifactStorage> {
    const storage = new FsArtifactStorage(resolve(dir), options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    await mkdir(storage.dir, { recursive: true });
    const now = Date.now();
    for (const name of await readdir(storage.dir)) {
      if (!name.startsWith(TEMP_PREFIX) || !name.endsWith(TEMP_SUFFIX)) continue;
      const path = join(storage.dir, name);
      const info = await stat(path).catch(() => null);
      if (info && now - info.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => undefined);
    }
    return storage;
  }

  async put(source: Readable, maxBytes: number): Promise<StoredArtifact> {
    const temp = join(this.dir, `${TEMP_PREFIX}${randomUUID()}${TEMP_SUFFIX}`);
    const upload = new MeteredUpload(source, maxBytes);
    let file: FileHandle | null = await open(temp, 'wx', 0o644);
    try {
      for await (const data of upload) await writeAll(file, data);
      await file.sync();
      await file.close();
      file = null;
      const sha256 = upload.sha256();
      const created = await this.publish(temp, join(this.dir, sha256));
      return { sha256, size: upload.size, created };
    } catch (error) {
      await file?.close().catch(() => undefined);
      throw error;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    if (!isSha256(sha256)) return null;
    try {
      const info = await stat(join(this.dir, sha256));
      return info.isFile() ? { size: info.size } : null;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null;
      throw error;
    }
  }

  read(sha256: string, range?: ByteRange): Readable {
    return new FileRange(this.dir, sha256, range, this.chunkBytes);
  }

  async delete(sha256: string): Promise<void> {
    if (!isSha256(sha256)) return;
    await unlink(join(this.dir, sha256)).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT') throw error;
    });
  }

  describe(sha256: string): string {
    return `filesystem:${join(this.dir, sha256)}`;
  }

  /**
   * Makes the fsynced temp file visible as `target`. A hard link fails with EEXIST when the
   * content is there already (another upload, maybe on another pod, won): one atomic decision,
   * so exactly one upload reports `created`. Filesystems without hard links fall back to rename,
   * which is just as safe for the bytes (identical content) but may report `created` twice.
   */
  private async publish(temp: string, target: string): Promise<boolean> {
    let created: boolean;
    try {
      await link(temp, target);
      created = true;
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
      if (await exists(target)) return false;
      await rename(temp, target);
      created = true;
    }
    await syncDirectory(this.dir);
    return created;
  }
}

async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Makes a new directory entry durable (best effort: not every filesystem lets a directory be fsynced). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => null);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/**
 * A byte range of one artifact file: positional reads of at most one chunk, each issued only when
 * the consumer asks for more. The size is taken from the open descriptor, so a concurrent delete
 * cannot cut a read short (the inode lives until it is closed).
 */
class FileRange extends Readable {
  private file: FileHandle | null = null;
  private position = 0;
  private end = -1;

  constructor(
    private readonly dir: string,
    private readonly sha256: string,
    private readonly range: ByteRange | undefined,
    private readonly chunkBytes: number,
  ) {
    super({ highWaterMark: chunkBytes });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    if (!isSha256(this.sha256)) {
      callback(new ArtifactNotFound(this.sha256));
      return;
    }
    open(join(this.dir, this.sha256), 'r')
      .then(async (file) => {
        this.file = file;
        const wanted = resolveRange((await file.stat()).size, this.range);
        if (wanted) {
          this.position = wanted.start;
          this.end = wanted.end;
        }
        callback();
      })
      .catch((error: unknown) =>
        callback(errnoOf(error) === 'ENOENT' ? new ArtifactNotFound(this.sha256) : asError(error)),
      );
  }

  override _read(): void {
    const remaining = this.end - this.position + 1;
    if (remaining <= 0 || !this.file) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafe(Math.min(this.chunkBytes, remaining));
    this.file.read(buffer, 0, buffer.length, this.position).then(
      ({ bytesRead }) => {
        if (bytesRead === 0)
          return this.destroy(new Error(`artifact ${this.sha256} is shorter than recorded`));
        this.position += bytesRead;
        this.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      },
      (error: unknown) => this.destroy(asError(error)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const file = this.file;
    this.file = null;
    if (!file) {
      callback(error);
      return;
    }
    file.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
