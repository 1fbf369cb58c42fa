import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodUnderTest } from './testing/wire.js';

let dir: string;
let pod: PodUnderTest;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'camfleet-dashboard-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>camfleet</title><div id="root"></div>');
  await writeFile(join(dir, 'assets', 'app-1a2b3c.js'), 'console.log("dashboard")');
  pod = await PodUnderTest.start({ FLEET_DASHBOARD_DIR: dir });
});
afterAll(async () => {
  await pod.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, init: RequestInit = {}) => fetch(`${pod.url}${path}`, init);

describe('the dashboard, served by the pod', () => {
  it('serves the page at / with a policy that lets it talk only to its own origin', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(
      /default-src 'self'; connect-src 'self' ws: wss:/,
    );
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<div id="root">');
  });

  it('caches fingerprinted assets for good, and answers the page for its own routes', async () => {
    const asset = await get('/assets/app-1a2b3c.js');
    expect(asset.headers.get('cache-control')).toMatch(/immutable/);
    expect(await asset.text()).toContain('dashboard');
    for (const route of [
      '/rollouts',
      '/rollouts/ro_123',
      '/rollouts/new',
      '/devices/cam-1',
      '/events',
      '/patches',
      '/admin',
    ])
      expect(await (await get(route)).text(), route).toContain('<div id="root">');
    // Anything else is not the page's: a mistyped probe path must fail, not get a page.
    expect((await get('/healthzz')).status).toBe(404);
  });

  it('keeps its own routes and never serves outside its directory', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/%2e%2e/%2e%2e/etc/passwd')).headers.get('content-type')).not.toMatch(/octet-stream/);
    expect(await (await get('/%2e%2e/%2e%2e/etc/passwd')).text()).not.toContain('root:');
    expect((await get('/', { method: 'POST' })).status).toBe(404);
  });
});

describe('without a dashboard build', () => {
  it('answers / with 404 and keeps working', async () => {
    const bare = await PodUnderTest.start({ FLEET_DASHBOARD_DIR: join(dir, 'missing') });
    try {
      expect((await fetch(`${bare.url}/`)).status).toBe(404);
      expect((await fetch(`${bare.url}/healthz`)).status).toBe(200);
    } finally {
      await bare.close();
    }
  });
});
