import type { RedisClient } from '@camfleet/redis';
import type { S3Config } from './config.js';
import { FsArtifactStorage } from './fs-storage.js';
import { RedisArtifactStorage } from './redis-storage.js';
import { S3ArtifactStorage } from './s3-storage.js';
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
