import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const valid = { FLEET_ADMIN_TOKEN: 'admin-token-0123456', FLEET_ENROLL_TOKEN: 'enroll-token-012345' };

describe('loadConfig', () => {
  it('applies defaults for everything optional', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      redis: { mode: 'single', url: 'redis://127.0.0.1:6379' },
      redisWaitReplicas: 0,
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

  it('serves devices with the lean transport unless FLEET_DEVICE_TRANSPORT=trpc', () => {
    expect(loadConfig(valid).deviceTransport).toBe('lean');
    expect(loadConfig({ ...valid, FLEET_DEVICE_TRANSPORT: 'trpc' }).deviceTransport).toBe('trpc');
    expect(() => loadConfig({ ...valid, FLEET_DEVICE_TRANSPORT: 'fast' })).toThrow(/FLEET_DEVICE_TRANSPORT/);
  });

  it('keeps ended rollouts’ finished deliveries 30 days unless FLEET_DELIVERY_RETENTION says', () => {
    expect(loadConfig(valid).deliveryRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ ...valid, FLEET_DELIVERY_RETENTION: '12h' }).deliveryRetentionMs).toBe(43_200_000);
    expect(loadConfig({ ...valid, FLEET_DELIVERY_RETENTION: '7d' }).deliveryRetentionMs).toBe(7 * 86_400_000);
    for (const bad of ['10s', 'soon', '-1d'])
      expect(() => loadConfig({ ...valid, FLEET_DELIVERY_RETENTION: bad })).toThrow(
        /FLEET_DELIVERY_RETENTION/,
      );
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

  it('selects Redis Cluster or Sentinel by URL or by host lists, with credentials', () => {
    expect(
      loadConfig({ ...valid, REDIS_URL: 'redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7000' }).redis,
    ).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7000 },
      ],
      password: 'pw',
      tls: false,
    });
    expect(
      loadConfig({ ...valid, REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_PASSWORD: 'pw' }).redis,
    ).toMatchObject({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      password: 'pw',
    });
    expect(
      loadConfig({ ...valid, REDIS_SENTINELS: 's1,s2:26380,s3', REDIS_SENTINEL_MASTER: 'camfleet' }).redis,
    ).toMatchObject({
      mode: 'sentinel',
      masterName: 'camfleet',
      sentinels: [{ host: 's1', port: 26379 }, {}, {}],
    });
    expect(loadConfig({ ...valid, REDIS_URL: 'redis+sentinel://s1:26379/camfleet' }).redis.mode).toBe(
      'sentinel',
    );
  });

  it("takes the Sentinels' own credentials apart from the data nodes', with Sentinel only", () => {
    expect(
      loadConfig({
        ...valid,
        REDIS_URL: 'redis+sentinel://:data-pw@s1:26379/camfleet',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
      }).redis,
    ).toMatchObject({ mode: 'sentinel', password: 'data-pw', sentinelPassword: 'sentinel-pw' });
    expect(
      loadConfig({
        ...valid,
        REDIS_SENTINELS: 's1',
        REDIS_SENTINEL_MASTER: 'camfleet',
        REDIS_SENTINEL_USERNAME: 'watcher',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
      }).redis,
    ).toMatchObject({ sentinelUsername: 'watcher', sentinelPassword: 'sentinel-pw' });
    expect(() =>
      loadConfig({ ...valid, REDIS_URL: 'redis://r:6379', REDIS_SENTINEL_PASSWORD: 'pw' }),
    ).toThrow(/REDIS_SENTINEL_PASSWORD: only with Sentinel \(Redis is single here\)/);
  });

  it('refuses two ways of naming Redis, or Sentinel without a master name', () => {
    expect(() =>
      loadConfig({ ...valid, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:7000' }),
    ).toThrow(/REDIS_URL, REDIS_CLUSTER_NODES: set only one of them/);
    expect(() => loadConfig({ ...valid, REDIS_SENTINELS: 's1:26379' })).toThrow(/REDIS_SENTINEL_MASTER/);
    expect(() => loadConfig({ ...valid, REDIS_CLUSTER_NODES: 'a:7000,b:x' })).toThrow(
      /REDIS_CLUSTER_NODES: "b:x" is not host:port/,
    );
    expect(() => loadConfig({ ...valid, FLEET_REDIS_WAIT_REPLICAS: '-1' })).toThrow(
      /FLEET_REDIS_WAIT_REPLICAS/,
    );
  });

  it('reads the legacy (migration) settings: off by default, an allow-list and a token when on', () => {
    expect(loadConfig(valid).legacy).toMatchObject({
      protocol: false,
      patchList: false,
      deviceIds: null,
      token: null,
    });
    const legacy = loadConfig({
      ...valid,
      FLEET_LEGACY_PROTOCOL: 'on',
      FLEET_LEGACY_DEVICE_IDS: 'cam_1,cam_2',
      FLEET_LEGACY_TOKEN: 'legacy-token-012345',
      FLEET_LEGACY_PATCH_LIST: 'on',
    }).legacy;
    expect(legacy).toMatchObject({
      protocol: true,
      patchList: true,
      token: 'legacy-token-012345',
      ackTimeoutMs: 60_000,
    });
    expect([...(legacy.deviceIds ?? [])]).toEqual(['cam_1', 'cam_2']);
    expect(() => loadConfig({ ...valid, FLEET_LEGACY_PROTOCOL: 'yes' })).toThrow(/FLEET_LEGACY_PROTOCOL/);
    expect(() => loadConfig({ ...valid, FLEET_LEGACY_TOKEN: 'short' })).toThrow(/FLEET_LEGACY_TOKEN/);
    expect(() => loadConfig({ ...valid, FLEET_LEGACY_DEVICE_IDS: 'a,,b' })).toThrow(
      /FLEET_LEGACY_DEVICE_IDS/,
    );
    // The device id rule: no ':' (it could never authenticate a download), a letter or digit first.
    for (const ids of ['cam:1', 'cam-1,site:cam-2', '-cam', 'cam 1']) {
      expect(() => loadConfig({ ...valid, FLEET_LEGACY_DEVICE_IDS: ids })).toThrow(/FLEET_LEGACY_DEVICE_IDS/);
    }
    expect(loadConfig({ ...valid, FLEET_LEGACY_DEVICE_IDS: 'Cam-01.a_b' }).legacy.deviceIds).toEqual(
      new Set(['Cam-01.a_b']),
    );
  });
});
