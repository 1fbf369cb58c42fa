import type { ByteRange } from './storage.js';

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
export function asBuffer(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  if (typeof piece === 'string') return Buffer.from(piece);
  throw new TypeError('artifact sources must be byte streams');
}
