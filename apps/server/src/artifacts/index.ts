import type { RedisClient } from '@camfleet/redis';
import type { S3Config } from './config.js';
import { FsArtifactStorage } from './fs-storage.js';
import { RedisArtifactStorage } from './redis-storage.js';
import { MAX_COPY_BYTES, S3ArtifactStorage } from './s3-storage.js';
import type { ArtifactStorage } from './storage.js';

export { FsArtifactStorage } from './fs-storage.js';
export { ArtifactHttp } from './http.js';
export { RedisArtifactStorage } from './redis-storage.js';
export { S3ArtifactStorage } from './s3-storage.js';
export type { ArtifactStorage } from './storage.js';

export interface ArtifactStoreConfig {
  artifactStore: 'redis' | 'filesystem' | 's3';
  artifactDir: string | null;
  s3: S3Config | null;
  artifactChunkBytes: number;
  keyPrefix: string;
}

/** The configured backend; `redis` is only used for the Redis one (a connection of its own is best). */
export async function openArtifactStorage(
  config: ArtifactStoreConfig,
  redis: RedisClient | null,
): Promise<ArtifactStorage> {
  if (config.artifactStore === 'filesystem') {
    if (!config.artifactDir) throw new Error('FLEET_ARTIFACT_DIR is required for the filesystem store');
    return FsArtifactStorage.open(config.artifactDir, { chunkBytes: config.artifactChunkBytes });
  }
  if (config.artifactStore === 's3') {
    if (!config.s3) throw new Error('FLEET_S3_BUCKET is required for the s3 store');
    const { endpoint, credentials, ...s3 } = config.s3;
    return new S3ArtifactStorage({
      ...s3,
      ...(endpoint ? { endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      chunkBytes: config.artifactChunkBytes,
    });
  }
  if (!redis) throw new Error('the Redis artifact store needs a Redis connection');
  return new RedisArtifactStorage(redis, config.keyPrefix, { chunkBytes: config.artifactChunkBytes });
}

/**
 * The largest upload a store takes, and what a refusal past it says: the configured limit, capped
 * for S3 at what one copy can move (the upload lands under a temporary key first), and for the
 * Redis store a pointer to where firmware images belong.
 */
export function uploadLimitOf(
  store: ArtifactStoreConfig['artifactStore'],
  configuredMaxBytes: number,
): { maxBytes: number; tooLargeHint?: string } {
  if (store === 'redis')
    return {
      maxBytes: configuredMaxBytes,
      tooLargeHint:
        'the Redis store is for small files: firmware images belong in object storage (FLEET_ARTIFACT_STORE=s3)',
    };
  if (store === 's3' && configuredMaxBytes > MAX_COPY_BYTES)
    return { maxBytes: MAX_COPY_BYTES, tooLargeHint: 'the S3 store takes at most 5 GiB per artifact' };
  return { maxBytes: configuredMaxBytes };
}
