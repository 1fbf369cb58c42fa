import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const valid = { FLEET_ADMIN_TOKEN: 'admin-token-0123456', FLEET_ENROLL_TOKEN: 'enroll-token-012345' };

describe('loadConfig', () => {
  it('applies defaults for everything optional', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      port: 8080,
      keyPrefix: 'cf',
      leaseMs: 10_000,
      artifactStore: 'redis',
      artifactDir: null,
      artifactMaxBytes: 64 * 1024 * 1024,
      artifactChunkBytes: 256 * 1024,
    });
    expect(config.nodeId.length).toBeGreaterThan(0);
  });

  it('needs an admin token from the environment or a tokens file', () => {
    expect(() => loadConfig({})).toThrow(/FLEET_ADMIN_TOKEN or FLEET_ADMIN_TOKENS_FILE is required/);
    expect(loadConfig({ FLEET_ADMIN_TOKENS_FILE: '/etc/camfleet/tokens.json' }).enrollToken).toBeNull();
  });

  it('reads PORT=0 as "pick a free port"', () => {
    expect(loadConfig({ ...valid, PORT: '0' }).port).toBe(0);
  });

  it('reads the artifact store settings, and needs a directory for the filesystem store', () => {
    expect(
      loadConfig({
        ...valid,
        FLEET_ARTIFACT_STORE: 'filesystem',
        FLEET_ARTIFACT_DIR: '/var/lib/camfleet/artifacts',
        FLEET_ARTIFACT_MAX_BYTES: '1048576',
        FLEET_ARTIFACT_CHUNK_BYTES: '65536',
      }),
    ).toMatchObject({
      artifactStore: 'filesystem',
      artifactDir: '/var/lib/camfleet/artifacts',
      artifactMaxBytes: 1_048_576,
      artifactChunkBytes: 65_536,
    });
    expect(() => loadConfig({ ...valid, FLEET_ARTIFACT_STORE: 'filesystem' })).toThrow(/FLEET_ARTIFACT_DIR/);
    expect(() => loadConfig({ ...valid, FLEET_ARTIFACT_STORE: 's3' })).toThrow(/FLEET_ARTIFACT_STORE/);
    expect(() => loadConfig({ ...valid, FLEET_ARTIFACT_CHUNK_BYTES: '100' })).toThrow(
      /FLEET_ARTIFACT_CHUNK_BYTES/,
    );
    expect(() => loadConfig({ ...valid, FLEET_ARTIFACT_MAX_BYTES: '0' })).toThrow(/FLEET_ARTIFACT_MAX_BYTES/);
  });

  it('names every missing or malformed variable at once', () => {
    const attempt = () =>
      loadConfig({
        FLEET_ADMIN_TOKEN: 'short',
        PORT: '99999',
        REDIS_URL: 'http://x',
        FLEET_KEY_PREFIX: 'a b',
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['FLEET_ADMIN_TOKEN', 'PORT', 'REDIS_URL', 'FLEET_KEY_PREFIX']) {
        expect(message).toContain(name);
      }
      expect(message).not.toContain('short');
    }
  });
});
