import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { waitFor } from '@camfleet/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactNotFound, InvalidRange } from './common.js';
import { type ArtifactStorage, ArtifactTooLarge, type ByteRange } from './storage.js';

/** A backend under test, with probes into where it keeps bytes. */
export interface StorageUnderTest {
  storage: ArtifactStorage;
  /** Bytes held for uploads that have not finished (chunks, temp files). */
  pendingBytes(): Promise<number>;
  /** Bytes held in all: finished artifacts and unfinished uploads. */
  heldBytes(): Promise<number>;
  /** Bytes the store must gather before any reach the backend (an S3 part); default: its chunk. */
  bufferBytes?: number;
  close(): Promise<void>;
}

export type MakeStorage = (options: { chunkBytes: number }) => Promise<StorageUnderTest>;

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A source that hands out `bytes` in pieces, one per read, counting what it produced. */
function sourceOf(bytes: Buffer, pieceBytes = 997) {
  let produced = 0;
  async function* pieces() {
    for (let offset = 0; offset < bytes.length; offset += pieceBytes) {
      await new Promise((r) => setImmediate(r));
      const piece = bytes.subarray(offset, offset + pieceBytes);
      produced += piece.length;
      yield piece;
    }
  }
  return { stream: Readable.from(pieces(), { objectMode: false }), produced: () => produced };
}

/** Everything a read yields, and the largest piece it yielded at once. */
async function drain(stream: Readable): Promise<{ bytes: Buffer; largest: number }> {
  const pieces: Buffer[] = [];
  let largest = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    pieces.push(piece);
    largest = Math.max(largest, piece.length);
  }
  return { bytes: Buffer.concat(pieces), largest };
}

async function failureOf(stream: Readable): Promise<unknown> {
  try {
    await drain(stream);
  } catch (error) {
    return error;
  }
  throw new Error('expected the read to fail');
}

/**
 * The behaviour every ArtifactStorage must have, run against each backend: content addressing,
 * ranges, dedupe (also under concurrency), the size bound, streaming in bounded memory, delete.
 */
export function describeStorage(name: string, make: MakeStorage): void {
  describe(`${name} (ArtifactStorage conformance)`, () => {
    const chunkBytes = 1000; // not a power of two: off-by-one errors at chunk edges show
    let t: StorageUnderTest;
    beforeEach(async () => {
      t = await make({ chunkBytes });
    });
    afterEach(async () => {
      await t.close();
    });

    it('stores content under its sha256, reports its size and reads it back whole', async () => {
      const bytes = randomBytes(10_500);
      const stored = await t.storage.put(sourceOf(bytes).stream, 1_000_000);
      expect(stored).toEqual({ sha256: sha(bytes), size: bytes.length, created: true });
      expect(await t.storage.stat(stored.sha256)).toEqual({ size: bytes.length });
      const { bytes: read, largest } = await drain(t.storage.read(stored.sha256));
      expect(read.equals(bytes)).toBe(true);
      expect(largest).toBeLessThanOrEqual(chunkBytes);
      expect(t.storage.describe(stored.sha256)).toContain(stored.sha256);
      expect(await t.pendingBytes()).toBe(0);
    });

    it('reads byte ranges, within a chunk and across chunk edges', async () => {
      const bytes = randomBytes(10_500);
      const { sha256 } = await t.storage.put(sourceOf(bytes).stream, 1_000_000);
      const ranges: ByteRange[] = [
        { start: 0, end: 0 },
        { start: 0, end: 999 },
        { start: 999, end: 1000 },
        { start: 1000, end: 1999 },
        { start: 1, end: 10_498 },
        { start: 2_500, end: 7_499 },
        { start: 10_000, end: 10_499 },
        { start: 10_499, end: 10_499 },
        { start: 0, end: 10_499 },
      ];
      for (const range of ranges) {
        const { bytes: read } = await drain(t.storage.read(sha256, range));
        expect(read.equals(bytes.subarray(range.start, range.end + 1)), `${range.start}-${range.end}`).toBe(
          true,
        );
      }
      expect(await failureOf(t.storage.read(sha256, { start: 0, end: 10_500 }))).toBeInstanceOf(InvalidRange);
      expect(await failureOf(t.storage.read(sha256, { start: 5, end: 4 }))).toBeInstanceOf(InvalidRange);
    });

    it('knows nothing of content it was never given, and never follows a name that is not a digest', async () => {
      const unknown = sha(Buffer.from('never uploaded'));
      expect(await t.storage.stat(unknown)).toBeNull();
      expect(await failureOf(t.storage.read(unknown))).toBeInstanceOf(ArtifactNotFound);
      expect(await t.storage.stat('../../etc/passwd')).toBeNull();
      expect(await t.storage.stat(unknown.toUpperCase())).toBeNull();
      expect(await failureOf(t.storage.read('../x'))).toBeInstanceOf(ArtifactNotFound);
      await t.storage.delete('../x');
    });

    it('stores an empty artifact', async () => {
      const stored = await t.storage.put(Readable.from([], { objectMode: false }), 10);
      expect(stored).toEqual({ sha256: sha(Buffer.alloc(0)), size: 0, created: true });
      expect(await t.storage.stat(stored.sha256)).toEqual({ size: 0 });
      expect((await drain(t.storage.read(stored.sha256))).bytes.length).toBe(0);
    });

    it('keeps the same content once (created=false the second time)', async () => {
      const bytes = randomBytes(4_321);
      const first = await t.storage.put(sourceOf(bytes).stream, 1_000_000);
      const second = await t.storage.put(sourceOf(bytes).stream, 1_000_000);
      expect(first.created).toBe(true);
      expect(second).toEqual({ sha256: first.sha256, size: bytes.length, created: false });
      expect(await t.heldBytes()).toBe(bytes.length);
      expect(await t.pendingBytes()).toBe(0);
      expect((await drain(t.storage.read(first.sha256))).bytes.equals(bytes)).toBe(true);
    });

    it('ends concurrent identical uploads with exactly one copy and one creator', async () => {
      const bytes = randomBytes(25_000);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => t.storage.put(sourceOf(bytes, 1_500).stream, 1_000_000)),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.sha256))).toEqual(new Set([sha(bytes)]));
      expect(await t.heldBytes()).toBe(bytes.length);
      expect(await t.pendingBytes()).toBe(0);
      expect((await drain(t.storage.read(sha(bytes)))).bytes.equals(bytes)).toBe(true);
    });

    it('refuses content over maxBytes as soon as it passes it, and keeps nothing of it', async () => {
      const source = sourceOf(randomBytes(50_000));
      await expect(t.storage.put(source.stream, 5_000)).rejects.toBeInstanceOf(ArtifactTooLarge);
      expect(source.produced()).toBeLessThan(10_000);
      expect(await t.heldBytes()).toBe(0);
      const exact = randomBytes(5_000);
      expect((await t.storage.put(sourceOf(exact).stream, 5_000)).size).toBe(5_000);
      expect(await t.heldBytes()).toBe(5_000);
    });

    it('keeps nothing of an upload whose source fails midway', async () => {
      async function* broken() {
        yield randomBytes(3_000);
        await new Promise((r) => setImmediate(r));
        throw new Error('connection reset');
      }
      await expect(t.storage.put(Readable.from(broken(), { objectMode: false }), 1_000_000)).rejects.toThrow(
        'connection reset',
      );
      expect(await t.heldBytes()).toBe(0);
    });

    it('deletes', async () => {
      const bytes = randomBytes(3_333);
      const { sha256 } = await t.storage.put(sourceOf(bytes).stream, 1_000_000);
      await t.storage.delete(sha256);
      expect(await t.storage.stat(sha256)).toBeNull();
      expect(await failureOf(t.storage.read(sha256))).toBeInstanceOf(ArtifactNotFound);
      expect(await t.heldBytes()).toBe(0);
      await t.storage.delete(sha256);
      expect((await t.storage.put(sourceOf(bytes).stream, 1_000_000)).created).toBe(true);
    });
  });

  describe(`${name} (ArtifactStorage conformance, several MiB)`, () => {
    const chunkBytes = 256 * 1024;
    let t: StorageUnderTest;
    beforeEach(async () => {
      t = await make({ chunkBytes });
    });
    afterEach(async () => {
      await t.close();
    });

    it('streams in and out in chunks: never more than about a chunk held in memory', async () => {
      const total = 8 * 1024 * 1024;
      const piece = 64 * 1024;
      const hash = createHash('sha256');
      let produced = 0;
      // Bytes the storage may hold in memory (its chunk plus what streams buffer) before they must
      // have reached the backend: if put() buffered the whole artifact, these waits would time out.
      const slack = (t.bufferBytes ?? chunkBytes) + 4 * piece;
      async function* pieces() {
        while (produced < total) {
          if (produced % (1024 * 1024) === 0 && produced > 0) {
            const due = produced - slack;
            await waitFor(async () => (await t.heldBytes()) >= due, {
              what: `${due} bytes in the backend while the upload is still running`,
              timeoutMs: 5_000,
            });
          }
          const bytes = randomBytes(piece);
          hash.update(bytes);
          produced += bytes.length;
          yield bytes;
        }
      }
      const stored = await t.storage.put(Readable.from(pieces(), { objectMode: false }), total);
      expect(stored).toEqual({ sha256: hash.digest('hex'), size: total, created: true });
      expect(await t.pendingBytes()).toBe(0);

      // Read slowly: the stream must not run ahead of its consumer.
      const read = t.storage.read(stored.sha256);
      const check = createHash('sha256');
      let largest = 0;
      let mostBuffered = 0;
      let pieceCount = 0;
      for await (const bytes of read as AsyncIterable<Buffer>) {
        check.update(bytes);
        largest = Math.max(largest, bytes.length);
        if (++pieceCount % 8 === 0) {
          await new Promise((r) => setTimeout(r, 20));
          mostBuffered = Math.max(mostBuffered, read.readableLength);
        }
      }
      expect(check.digest('hex')).toBe(stored.sha256);
      expect(largest).toBeLessThanOrEqual(chunkBytes);
      expect(pieceCount).toBeGreaterThanOrEqual(total / chunkBytes);
      expect(mostBuffered).toBeLessThanOrEqual(2 * chunkBytes);

      // A resumed download: the tail from an offset in the middle of a chunk.
      const from = 3 * chunkBytes + 12_345;
      const tail = await drain(t.storage.read(stored.sha256, { start: from, end: total - 1 }));
      expect(tail.bytes.length).toBe(total - from);
      expect(tail.largest).toBeLessThanOrEqual(chunkBytes);
    });
  });
}
