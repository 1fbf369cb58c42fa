import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ArtifactTooLarge, type ByteRange } from './storage.js';

const SHA256 = /^[a-f0-9]{64}$/;

/** A lowercase hex SHA-256: the only names storage ever builds a key or a path from. */
export function isSha256(value: string): boolean {
  return SHA256.test(value);
}

/** The artifact is not stored (or was deleted while it was being read). */
export class ArtifactNotFound extends Error {
  override readonly name = 'ArtifactNotFound';
  constructor(readonly sha256: string) {
    super(`no stored artifact ${sha256}`);
  }
}

/** A read asked for bytes outside the artifact. */
export class InvalidRange extends Error {
  override readonly name = 'InvalidRange';
}

/** The range to read, checked against the artifact's size; `null` means "nothing to read". */
export function resolveRange(size: number, range: ByteRange | undefined): ByteRange | null {
  if (!range) return size === 0 ? null : { start: 0, end: size - 1 };
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= size) {
    throw new InvalidRange(`bytes ${start}-${end} are not within ${size} bytes`);
  }
  return range;
}

/** A piece of a byte stream as a Buffer (sources are byte streams; anything else is a bug upstream). */
function asBuffer(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  if (typeof piece === 'string') return Buffer.from(piece);
  throw new TypeError('artifact sources must be byte streams');
}

/**
 * An upload's bytes as Buffers, counted against the size limit (ArtifactTooLarge past it) and hashed
 * as they pass: every store writes them its own way and names the result by `sha256()`.
 */
export class MeteredUpload implements AsyncIterable<Buffer> {
  size = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly source: Readable,
    private readonly maxBytes: number,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for await (const piece of this.source as AsyncIterable<unknown>) {
      const data = asBuffer(piece);
      this.size += data.length;
      if (this.size > this.maxBytes) throw new ArtifactTooLarge(this.maxBytes);
      this.hash.update(data);
      yield data;
    }
  }

  /** The hex SHA-256 of everything read; once, after the last byte. */
  sha256(): string {
    return this.hash.digest('hex');
  }
}
