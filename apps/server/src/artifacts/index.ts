import type { RedisClient } from '@camfleet/redis';
import { FsArtifactStorage } from './fs-storage.js';
import { RedisArtifactStorage } from './redis-storage.js';
import type { ArtifactStorage } from './storage.js';

export { FsArtifactStorage } from './fs-storage.js';
export { ArtifactHttp } from './http.js';
export { RedisArtifactStorage } from './redis-storage.js';
export type { ArtifactStorage } from './storage.js';

export interface ArtifactStoreConfig {
  artifactStore: 'redis' | 'filesystem';
  artifactDir: string | null;
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
  if (!redis) throw new Error('the Redis artifact store needs a Redis connection');
  return new RedisArtifactStorage(redis, config.keyPrefix, { chunkBytes: config.artifactChunkBytes });
}
