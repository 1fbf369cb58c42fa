import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { RedisClient } from '@camfleet/redis';
import { connectTestRedis, keysEverywhere, startTestRedis, type TestRedis } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsArtifactStorage } from './fs-storage.js';
import { RedisArtifactStorage } from './redis-storage.js';
import { describeStorage } from './storage.conformance.js';

let server: TestRedis;
let redis: RedisClient;
let suites = 0;

beforeAll(async () => {
  server = await startTestRedis();
  redis = connectTestRedis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.destroy();
});

/** Chunk keys of every upload under a prefix, with their sizes and whether they still expire. */
async function chunksUnder(
  prefix: string,
): Promise<Array<{ key: string; bytes: number; expiring: boolean }>> {
  const keys = await keysEverywhere(redis, `${prefix}:{up:*}:c:*`);
  return Promise.all(
    keys.map(async (key) => ({
      key,
      bytes: await redis.strlen(key),
      expiring: (await redis.pttl(key)) > 0,
    })),
  );
}

describeStorage('RedisArtifactStorage', async ({ chunkBytes }) => {
  // A fresh key prefix per test: one Redis, no state shared between tests.
  const prefix = `t${++suites}`;
  const storage = new RedisArtifactStorage(redis, prefix, { chunkBytes });
  const sum = (chunks: Array<{ bytes: number }>) => chunks.reduce((n, c) => n + c.bytes, 0);
  return {
    storage,
    pendingBytes: async () => sum((await chunksUnder(prefix)).filter((c) => c.expiring)),
    heldBytes: async () => sum(await chunksUnder(prefix)),
    close: async () => undefined,
  };
});

describeStorage('FsArtifactStorage', async ({ chunkBytes }) => {
  const dir = await mkdtemp(join(tmpdir(), 'camfleet-artifacts-'));
  const storage = await FsArtifactStorage.open(dir, { chunkBytes });
  const bytesOf = async (match: (name: string) => boolean) => {
    let total = 0;
    for (const name of await readdir(dir)) {
      if (match(name)) total += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
    }
    return total;
  };
  return {
    storage,
    pendingBytes: () => bytesOf((name) => name.startsWith('.upload-')),
    heldBytes: () => bytesOf(() => true),
    close: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('RedisArtifactStorage layout', () => {
  it('keeps an upload in chunks under one hash tag and one record under {g}', async () => {
    const prefix = 'layout';
    const storage = new RedisArtifactStorage(redis, prefix, { chunkBytes: 4096 });
    const bytes = Buffer.alloc(10_000, 7);
    const stored = await storage.put(Readable.from([bytes], { objectMode: false }), 1_000_000);
    const chunks = await chunksUnder(prefix);
    expect(chunks.map((c) => c.bytes).sort((a, b) => b - a)).toEqual([4096, 4096, 1808]);
    expect(chunks.every((c) => !c.expiring)).toBe(true);
    const upload = /\{up:([^}]+)\}/.exec(chunks[0]?.key ?? '')?.[1];
    expect(chunks.every((c) => c.key.startsWith(`${prefix}:{up:${upload}}:c:`))).toBe(true);
    const record = await redis.hgetall(`${prefix}:{g}:artifact:${stored.sha256}`);
    expect(record).toMatchObject({ size: '10000', chunkBytes: '4096', upload });
    expect(Number(record.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(storage.describe(stored.sha256)).toBe(`redis:${prefix}:{g}:artifact:${stored.sha256}`);
  });
});

describe('FsArtifactStorage housekeeping', () => {
  it('removes temp files that uploads left behind long ago, and only those', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-artifacts-'));
    const old = join(dir, '.upload-old.tmp');
    const fresh = join(dir, '.upload-fresh.tmp');
    await writeFile(old, 'x');
    await writeFile(fresh, 'y');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    await FsArtifactStorage.open(dir);
    expect((await readdir(dir)).sort()).toEqual(['.upload-fresh.tmp']);
    await rm(dir, { recursive: true, force: true });
  });
});
