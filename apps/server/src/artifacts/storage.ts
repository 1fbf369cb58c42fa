import type { Readable } from 'node:stream';

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredArtifact {
  sha256: string;
  size: number;
  /** False when the same content was stored already (content-addressed: kept once). */
  created: boolean;
}

/**
 * Where artifact bytes live, addressed by their SHA-256. Implementations stream in and out with
 * memory bounded by their chunk size, never buffering a whole file.
 *
 * An object store (S3) is one more implementation: `put` streams to a temporary object and copies
 * it to `<sha256>` once the digest is known, `read` maps ranges onto ranged GETs, `stat` onto a HEAD.
 */
export interface ArtifactStorage {
  readonly kind: 'redis' | 'filesystem' | 's3';
  /** Streams the bytes in, hashing them; refuses (ArtifactTooLarge) past maxBytes. */
  put(source: Readable, maxBytes: number): Promise<StoredArtifact>;
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Streams the bytes (or a range) out, honouring backpressure. */
  read(sha256: string, range?: ByteRange): Readable;
  delete(sha256: string): Promise<void>;
  /** Where the bytes are, for operators ("redis", "filesystem:/var/lib/camfleet/…"). */
  describe(sha256: string): string;
  /**
   * Stores that devices can fetch from directly: a URL for exactly this artifact, valid for
   * `seconds`. Absent: devices download through a pod.
   */
  presign?(sha256: string, seconds: number): Promise<string>;
}

export class ArtifactTooLarge extends Error {
  override readonly name = 'ArtifactTooLarge';
  constructor(readonly maxBytes: number) {
    super(`artifact larger than ${maxBytes} bytes`);
  }
}
