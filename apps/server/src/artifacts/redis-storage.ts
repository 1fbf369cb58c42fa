import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RedisClient } from '@camfleet/redis';
import { ArtifactNotFound, isSha256, MeteredUpload, resolveRange } from './common.js';
import type { ArtifactStorage, ByteRange, StoredArtifact } from './storage.js';

export const DEFAULT_CHUNK_BYTES = 256 * 1024;

/**
 * Chunks of an upload that never committed (the pod died mid-upload) expire after this long.
 * Committed chunks are made persistent before the artifact is recorded.
 */
const UPLOAD_TTL_MS = 60 * 60 * 1000;

/** Keys per DEL / PERSIST batch: bounded command sizes even for very large artifacts. */
const KEY_BATCH = 512;

/**
 * Records the artifact unless its sha is stored already: the one decision that makes concurrent
 * identical uploads end with exactly one record.
 *   KEYS[1] <prefix>:{g}:artifact:<sha256>
 *   ARGV    size, chunkBytes, upload id
 *   returns 1 recorded, 0 stored already
 */
const COMMIT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'size', ARGV[1], 'chunkBytes', ARGV[2], 'upload', ARGV[3], 'createdAt', now)
return 1
`;

/**
 * Drops the record only if it still points at the upload the caller is about to delete.
 *   KEYS[1] the record; ARGV[1] upload id; returns 1 deleted, 0 not (gone or replaced)
 */
const FORGET = `
if redis.call('HGET', KEYS[1], 'upload') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

interface Layout {
  size: number;
  chunkBytes: number;
  upload: string;
}

/**
 * Artifacts in Redis, in chunks: `<prefix>:{up:<id>}:c:<n>` (one hash tag per upload, so a
 * cluster keeps an upload's chunks in one slot) and a record `<prefix>:{g}:artifact:<sha256>` →
 * {size, chunkBytes, upload, createdAt}. Uploads and downloads hold about one chunk in memory.
 */
export class RedisArtifactStorage implements ArtifactStorage {
  readonly kind = 'redis' as const;
  readonly chunkBytes: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    options: { chunkBytes?: number } = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < 1) {
      throw new RangeError('chunkBytes must be a positive integer');
    }
  }

  recordKey(sha256: string): string {
    return `${this.prefix}:{g}:artifact:${sha256}`;
  }

  chunkKey(upload: string, n: number): string {
    return `${this.prefix}:{up:${upload}}:c:${n}`;
  }

  async put(source: Readable, maxBytes: number): Promise<StoredArtifact> {
    const upload = randomBytes(12).toString('base64url');
    const metered = new MeteredUpload(source, maxBytes);
    let written = 0; // chunk keys issued (some may have failed: cleanup deletes them all)
    let chunk = Buffer.allocUnsafe(this.chunkBytes);
    let fill = 0;
    const flush = async (bytes: Buffer) => {
      const key = this.chunkKey(upload, written++);
      await this.redis.set(key, bytes, 'PX', UPLOAD_TTL_MS);
    };
    try {
      for await (const data of metered) {
        let offset = 0;
        while (offset < data.length) {
          const take = Math.min(this.chunkBytes - fill, data.length - offset);
          data.copy(chunk, fill, offset, offset + take);
          fill += take;
          offset += take;
          if (fill === this.chunkBytes) {
            // The reply comes once Redis has all the bytes, so the buffer is free again after it;
            // a fresh one keeps that reasoning out of the way.
            await flush(chunk);
            chunk = Buffer.allocUnsafe(this.chunkBytes);
            fill = 0;
          }
        }
      }
      if (fill > 0) await flush(chunk.subarray(0, fill));
      const sha256 = metered.sha256();
      // Persist first, record second: a crash in between leaves orphaned chunks, never a record
      // pointing at chunks that expire.
      await this.persistChunks(upload, written);
      const recorded = await this.redis.eval(
        COMMIT,
        1,
        this.recordKey(sha256),
        String(metered.size),
        String(this.chunkBytes),
        upload,
      );
      if (recorded !== 1) await this.deleteChunks(upload, written);
      return { sha256, size: metered.size, created: recorded === 1 };
    } catch (error) {
      await this.deleteChunks(upload, written).catch(() => undefined);
      throw error;
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    const layout = await this.layout(sha256);
    return layout ? { size: layout.size } : null;
  }

  read(sha256: string, range?: ByteRange): Readable {
    // Readable.from pulls the generator only when the consumer reads: one chunk in flight at a time.
    return Readable.from(this.chunks(sha256, range), { objectMode: false });
  }

  async delete(sha256: string): Promise<void> {
    const layout = await this.layout(sha256);
    if (!layout) return;
    const forgotten = await this.redis.eval(FORGET, 1, this.recordKey(sha256), layout.upload);
    if (forgotten === 1) {
      await this.deleteChunks(layout.upload, Math.ceil(layout.size / layout.chunkBytes));
    }
  }

  describe(sha256: string): string {
    return `redis:${this.recordKey(sha256)}`;
  }

  private async layout(sha256: string): Promise<Layout | null> {
    if (!isSha256(sha256)) return null;
    const [size, chunkBytes, upload] = await this.redis.hmget(
      this.recordKey(sha256),
      'size',
      'chunkBytes',
      'upload',
    );
    if (typeof size !== 'string' || typeof chunkBytes !== 'string' || typeof upload !== 'string') return null;
    return { size: Number(size), chunkBytes: Number(chunkBytes), upload };
  }

  private async *chunks(sha256: string, range: ByteRange | undefined): AsyncGenerator<Buffer> {
    const layout = await this.layout(sha256);
    if (!layout) throw new ArtifactNotFound(sha256);
    const wanted = resolveRange(layout.size, range);
    if (!wanted) return;
    const { chunkBytes, upload, size } = layout;
    for (let n = Math.floor(wanted.start / chunkBytes); n <= Math.floor(wanted.end / chunkBytes); n++) {
      const chunkStart = n * chunkBytes;
      const chunkLength = Math.min(chunkBytes, size - chunkStart);
      const from = Math.max(wanted.start, chunkStart) - chunkStart;
      const to = Math.min(wanted.end, chunkStart + chunkLength - 1) - chunkStart;
      const key = this.chunkKey(upload, n);
      const bytes =
        from === 0 && to === chunkLength - 1
          ? await this.redis.getBuffer(key)
          : await this.redis.getrangeBuffer(key, from, to);
      // A missing key reads as null (GET) or empty (GETRANGE): deleted while being read.
      if (!bytes || bytes.length !== to - from + 1) throw new ArtifactNotFound(sha256);
      yield bytes;
    }
  }

  private async persistChunks(upload: string, count: number): Promise<void> {
    for (let first = 0; first < count; first += KEY_BATCH) {
      const batch = this.redis.pipeline();
      for (let n = first; n < Math.min(count, first + KEY_BATCH); n++)
        batch.persist(this.chunkKey(upload, n));
      const results = (await batch.exec()) ?? [];
      // PERSIST answers 0 for a key that is gone: the upload outlived its chunks' expiry.
      if (results.some(([err, removedTtl]) => err || removedTtl !== 1)) {
        throw new Error('upload chunks expired before the upload finished');
      }
    }
  }

  private async deleteChunks(upload: string, count: number): Promise<void> {
    for (let first = 0; first < count; first += KEY_BATCH) {
      const keys: string[] = [];
      for (let n = first; n < Math.min(count, first + KEY_BATCH); n++) keys.push(this.chunkKey(upload, n));
      await this.redis.del(...keys);
    }
  }
}
