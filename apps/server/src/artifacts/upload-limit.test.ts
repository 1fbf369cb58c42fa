import { describe, expect, it } from 'vitest';
import { uploadLimitOf } from './index.js';

const GIB = 1024 ** 3;

describe('the largest upload a store takes', () => {
  it('caps S3 at what one copy moves, and says so', () => {
    expect(uploadLimitOf('s3', 64 * GIB)).toEqual({
      maxBytes: 5 * GIB,
      tooLargeHint: 'the S3 store takes at most 5 GiB per artifact',
    });
    expect(uploadLimitOf('s3', 2 * GIB)).toEqual({ maxBytes: 2 * GIB });
  });

  it('points Redis-store uploads that are too big to object storage, and keeps the filesystem limit', () => {
    expect(uploadLimitOf('redis', 64 * 1024 ** 2).tooLargeHint).toMatch(/FLEET_ARTIFACT_STORE=s3/);
    expect(uploadLimitOf('filesystem', 64 * GIB)).toEqual({ maxBytes: 64 * GIB });
  });
});
