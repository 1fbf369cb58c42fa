import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { startTestS3, type TestS3 } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_PART_BYTES, S3ArtifactStorage } from './s3-storage.js';
import { describeStorage } from './storage.conformance.js';

let s3: TestS3;
let suites = 0;

beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.destroy();
});

const storageAt = (prefix: string, chunkBytes: number) =>
  new S3ArtifactStorage({
    bucket: s3.bucket,
    prefix,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    credentials: s3.credentials,
    forcePathStyle: true,
    chunkBytes,
    partBytes: MIN_PART_BYTES,
  });

describeStorage('S3ArtifactStorage', async ({ chunkBytes }) => {
  // A fresh key prefix per test: one server, no state shared between tests.
  const prefix = `t${++suites}/`;
  const storage = storageAt(prefix, chunkBytes);
  return {
    storage,
    pendingBytes: () => s3.bytesOnDisk(`${prefix}uploads/`, { parts: true }),
    heldBytes: () => s3.bytesOnDisk(prefix, { parts: true }),
    bufferBytes: MIN_PART_BYTES,
    close: async () => storage.close(),
  };
});

describe('S3ArtifactStorage layout', () => {
  it('keeps an artifact at <prefix><sha256>, nothing else, and signs a URL that serves ranges', async () => {
    const storage = storageAt('layout/', 4096);
    const bytes = randomBytes(10_000);
    const stored = await storage.put(Readable.from([bytes], { objectMode: false }), 1_000_000);
    expect(storage.describe(stored.sha256)).toBe(`s3://${s3.bucket}/layout/${stored.sha256}`);
    expect(await s3.bytesOnDisk(`layout/${stored.sha256}`)).toBe(10_000);
    expect(await s3.bytesOnDisk('layout/', { parts: true })).toBe(10_000);
    const url = await storage.presign(stored.sha256, 60);
    const response = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    storage.close();
  });
});
