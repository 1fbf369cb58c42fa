import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ArtifactNotFound, InvalidRange, isSha256, MeteredUpload, resolveRange } from './common.js';
import { DEFAULT_CHUNK_BYTES } from './redis-storage.js';
import type { ArtifactStorage, ByteRange, StoredArtifact } from './storage.js';

/** S3's smallest multipart part (but the last): what an upload holds in memory at least. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** A single CopyObject copies at most this much: larger artifacts would need UploadPartCopy. */
export const MAX_COPY_BYTES = 5 * 1024 ** 3;
/** Where uploads land before their digest is known; never a name a download can ask for. */
const TEMP_DIR = 'uploads/';

export interface S3StorageOptions {
  bucket: string;
  /** Prepended to every key (`camfleet/` puts artifacts at `camfleet/<sha256>`). */
  prefix?: string;
  region: string;
  /** Another S3-compatible service (MinIO, Ceph, …); absent: AWS. */
  endpoint?: string;
  /** Absent: the SDK's default chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle?: boolean;
  /** Read size: the largest piece a download hands on. */
  chunkBytes?: number;
  /** Multipart part size (≥ 5 MiB): the memory one upload holds. */
  partBytes?: number;
}

/**
 * Artifacts as objects `<prefix><sha256>` in one bucket. An upload streams to a temporary object
 * `<prefix>uploads/<uuid>` (multipart, one part in memory) while it is hashed; only once the digest
 * is known is it copied to its name and the temporary object deleted. A name therefore never holds
 * bytes of another digest, and a failed upload leaves at most a temporary object (a bucket
 * lifecycle rule on `<prefix>uploads/` sweeps those of pods that died mid-upload).
 */
export class S3ArtifactStorage implements ArtifactStorage {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly chunkBytes: number;
  private readonly partBytes: number;
  /** Per digest, the commit under way in this pod: one decides `created` at a time. */
  private readonly commits = new Map<string, Promise<unknown>>();

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? 8 * 1024 * 1024);
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      // Checksums only where S3 demands them: presigned URLs stay plain GETs any client can make.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  key(sha256: string): string {
    return `${this.prefix}${sha256}`;
  }

  async put(source: Readable, maxBytes: number): Promise<StoredArtifact> {
    const temp = `${this.prefix}${TEMP_DIR}${randomUUID()}`;
    const metered = new MeteredUpload(source, maxBytes);
    const upload = new Upload({
      client: this.client,
      // One part at a time: memory stays at one part, whatever the artifact's size.
      queueSize: 1,
      partSize: this.partBytes,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: temp,
        Body: Readable.from(metered, { objectMode: false }),
        ContentType: 'application/octet-stream',
      },
    });
    let uploaded = false;
    try {
      const done = await upload.done();
      uploaded = true;
      const sha256 = metered.sha256();
      if (metered.size > MAX_COPY_BYTES)
        throw new Error(`artifacts over ${MAX_COPY_BYTES} bytes need a multipart copy`);
      const created = await this.commit(temp, sha256, done.ETag);
      return { sha256, size: metered.size, created };
    } finally {
      // Uploaded or half-written (a single-part PUT that failed may have landed): it goes either way.
      await this.deleteKey(temp).catch(() => undefined);
      if (!uploaded) await upload.abort().catch(() => undefined);
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    if (!isSha256(sha256)) return null;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(sha256) }),
      );
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  read(sha256: string, range?: ByteRange): Readable {
    return Readable.from(this.pieces(sha256, range), { objectMode: false });
  }

  async delete(sha256: string): Promise<void> {
    if (!isSha256(sha256)) return;
    await this.deleteKey(this.key(sha256));
  }

  describe(sha256: string): string {
    return `s3://${this.bucket}/${this.key(sha256)}`;
  }

  /** A GET URL for exactly this artifact, signed for `seconds` (SigV4 allows 1 s to 7 days). */
  presign(sha256: string, seconds: number): Promise<string> {
    if (!isSha256(sha256)) throw new ArtifactNotFound(sha256);
    const expiresIn = Math.max(1, Math.min(7 * 86_400, Math.floor(seconds)));
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(sha256) }), {
      expiresIn,
    });
  }

  close(): void {
    this.client.destroy();
  }

  /**
   * Gives the verified temporary object its name, unless the content is there already. S3 has no
   * "copy if absent", so two pods finishing the same content at once may both copy (the same
   * bytes: harmless) and both report `created`; within a pod, commits of one digest take turns.
   */
  private commit(temp: string, sha256: string, etag: string | undefined): Promise<boolean> {
    const previous = this.commits.get(sha256) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        if (await this.stat(sha256)) return false;
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.key(sha256),
            CopySource: `${this.bucket}/${encodeURIComponent(temp).replace(/%2F/g, '/')}`,
            // Copy exactly what this upload wrote (and hashed), nothing that replaced it since.
            ...(etag ? { CopySourceIfMatch: etag } : {}),
            ContentType: 'application/octet-stream',
            MetadataDirective: 'REPLACE',
          }),
        );
        return true;
      });
    this.commits.set(sha256, next);
    const forget = () => {
      if (this.commits.get(sha256) === next) this.commits.delete(sha256);
    };
    next.then(forget, forget);
    return next;
  }

  /** The object's bytes (or a range) in pieces of at most chunkBytes, read as the consumer asks. */
  private async *pieces(sha256: string, range: ByteRange | undefined): AsyncGenerator<Buffer> {
    if (!isSha256(sha256)) throw new ArtifactNotFound(sha256);
    if (range && !(range.start >= 0 && range.end >= range.start)) {
      throw new InvalidRange(`bytes ${range.start}-${range.end} are not a range`);
    }
    let body: AsyncIterable<Uint8Array>;
    try {
      const got = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key(sha256),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      body = got.Body as AsyncIterable<Uint8Array>;
      // S3 shortens a range that runs past the end; storage refuses it, like the other stores.
      if (range) checkRangeOrDrop(got.ContentRange, range, body);
    } catch (error) {
      if (isMissing(error)) throw new ArtifactNotFound(sha256);
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 416)
        throw new InvalidRange(`bytes ${range?.start}-${range?.end} are not within the artifact`);
      throw error;
    }
    // Some servers answer `bytes=0-0` with more than one byte: pass on only what was asked for.
    let left = range ? range.end - range.start + 1 : Number.POSITIVE_INFINITY;
    for await (const piece of body) {
      const bytes = Buffer.from(piece.buffer, piece.byteOffset, Math.min(piece.byteLength, left));
      left -= bytes.length;
      for (let offset = 0; offset < bytes.length; offset += this.chunkBytes) {
        yield bytes.subarray(offset, offset + this.chunkBytes);
      }
      if (left <= 0) break;
    }
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

/**
 * The answer to a ranged GET must start where asked, in an object long enough for the whole range
 * (S3 shortens a range that runs past the end; storage refuses it, like the other stores).
 */
function checkRangeOrDrop(
  contentRange: string | undefined,
  range: ByteRange,
  body: AsyncIterable<Uint8Array>,
) {
  const match = /^bytes (\d+)-\d+\/(\d+)$/.exec(contentRange ?? '');
  try {
    if (!match) throw new Error(`a ranged GET answered without a Content-Range (${contentRange})`);
    resolveRange(Number(match[2]), range);
    if (Number(match[1]) !== range.start) throw new Error(`asked for ${range.start}-, got ${contentRange}`);
  } catch (error) {
    if (body instanceof Readable) body.destroy();
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404)
  );
}
