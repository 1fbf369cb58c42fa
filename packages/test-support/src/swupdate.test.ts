import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './redis.js';
import {
  buildSwu,
  liveProcessGroup,
  makeSigningKey,
  runSwu,
  type SigningKey,
  SwupdateAgent,
} from './swupdate.js';

const haveSwupdate = spawnSync('swupdate', ['--help'], { stdio: 'ignore' }).error === undefined;
if (!haveSwupdate)
  console.warn('swupdate.test.ts skipped: `swupdate` is not on PATH (apt-get install swupdate)');

describe.skipIf(!haveSwupdate)('swupdate harness (Debian swupdate 2022.12, no server)', () => {
  let dir: string;
  let key: SigningKey;
  let runs = 0;
  const workDir = () => join(dir, `run-${++runs}`);
  const payload = Buffer.from('camfleet firmware \u0000\u0001\u00ff payload\n', 'latin1');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'camfleet-swupdate-'));
    key = await makeSigningKey(join(dir, 'key'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const build = (installPath: string, options: { signing?: SigningKey; corruptHash?: boolean } = {}) =>
    buildSwu({
      dir: join(dir, 'images'),
      signing: options.signing ?? key,
      version: '1.2.3',
      payloadName: 'camfleet.bin',
      payload,
      installPath,
      corruptHash: options.corruptHash ?? false,
    });

  it('accepts a signed image in check mode, rejects one signed with another key', async () => {
    const image = await build(join(dir, 'check', 'camfleet.bin'));
    expect(image.size).toBeGreaterThan(payload.length);
    expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);

    const ok = await runSwu({ image: image.path, certPath: key.certPath, workDir: workDir(), check: true });
    expect(ok.log).toMatch(/Verified OK/);
    expect(ok.log).toMatch(/Hardware compatibility verified/);
    expect(ok.ok, ok.log).toBe(true);

    const other = await makeSigningKey(join(dir, 'other-key'));
    const forged = await build(join(dir, 'check', 'camfleet.bin'), { signing: other });
    const bad = await runSwu({ image: forged.path, certPath: key.certPath, workDir: workDir(), check: true });
    expect(bad.ok).toBe(false);
    expect(bad.code).not.toBe(0);
    expect(bad.log).toMatch(/Authentication of all signatures failed/);
    expect(existsSync(join(dir, 'check', 'camfleet.bin'))).toBe(false);
  });

  it('installs the payload at installPath', async () => {
    const installPath = join(dir, 'install', 'sub', 'camfleet.bin');
    const image = await build(installPath);
    const result = await runSwu({ image: image.path, certPath: key.certPath, workDir: workDir() });
    expect(result.ok, result.log).toBe(true);
    expect(result.log).toMatch(/SWUpdate was successful/);
    expect(await readFile(installPath)).toEqual(payload);
  });

  it('refuses an image whose declared sha256 is wrong', async () => {
    const installPath = join(dir, 'corrupt', 'camfleet.bin');
    const image = await build(installPath, { corruptHash: true });
    const result = await runSwu({ image: image.path, certPath: key.certPath, workDir: workDir() });
    expect(result.ok).toBe(false);
    expect(result.code).not.toBe(0);
    expect(result.log).toMatch(/HASH mismatch/);
    expect(existsSync(installPath)).toBe(false);
  });

  it('runs as a suricatta agent: polls a closed port, logs the failure, stops cleanly', async () => {
    const port = await freePort();
    const agent = await SwupdateAgent.start({
      serverUrl: `http://127.0.0.1:${port}`,
      tenant: 'default',
      controllerId: 'cam-1',
      targetToken: 'token-1',
      certPath: key.certPath,
      workDir: workDir(),
    });
    try {
      await agent.waitForLog(/Server initialized, entering suricatta main loop/, 30_000);
      await agent.waitForLog(/Couldn't connect to server/, 30_000);
      expect(agent.exited).toBeNull();
    } finally {
      const exit = await agent.stop();
      expect(exit).toEqual(agent.exited);
    }
    expect(agent.exited).not.toBeNull();
    // Its whole process group (suricatta, chunks_downloader) is gone too.
    expect(await liveProcessGroup(agent.child.pid!)).toEqual([]);
  });
});
