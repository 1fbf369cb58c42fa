import { createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyIdOf, signManifest, verifyManifest } from '@camfleet/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../test-helpers.js';

let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-keys-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('keys generate', () => {
  it('writes a private key (0600) and a public key, and prints the key id and paths', async () => {
    const result = await run(['keys', 'generate', '--out', dir, '--name', 'release']);
    expect(result.code).toBe(0);
    const privatePath = join(dir, 'release.key.pem');
    const publicPath = join(dir, 'release.pub.pem');
    expect(await modeOf(privatePath)).toBe(0o600);
    expect(await modeOf(publicPath)).toBe(0o644);

    const privatePem = await readFile(privatePath, 'utf8');
    const publicPem = await readFile(publicPath, 'utf8');
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const keyId = keyIdOf(createPublicKey(publicPem));
    expect(result.stdout).toMatch(new RegExp(`Key id\\s+${keyId}`));
    expect(result.stdout).toContain(privatePath);
    expect(result.stdout).toContain(publicPath);
    expect(result.stderr).toMatch(/keep .*release\.key\.pem secret/);
    // Nothing is sent anywhere: no server needed.
    expect(result.connects).toEqual([]);

    // The pair works: what the private key signs, the public key verifies.
    const manifest = { name: 'cam-firmware', version: '1.0.0', sha256: 'a'.repeat(64), size: 1 };
    const signature = signManifest(manifest, privatePem);
    expect(signature.keyId).toBe(keyId);
    expect(verifyManifest(manifest, signature, [publicPem])).toBe('valid');
  });

  it('--json prints the key id and paths', async () => {
    const result = await run(['keys', 'generate', '--out', dir, '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const printed = JSON.parse(result.stdout) as { keyId: string; privateKey: string; publicKey: string };
    expect(printed).toEqual({
      keyId: expect.stringMatching(/^[0-9a-f]{16}$/),
      privateKey: join(dir, 'signing.key.pem'),
      publicKey: join(dir, 'signing.pub.pem'),
    });
  });

  it('creates --out if missing', async () => {
    const out = join(dir, 'a', 'b');
    const result = await run(['keys', 'generate', '--out', out]);
    expect(result.code).toBe(0);
    expect(await modeOf(join(out, 'signing.key.pem'))).toBe(0o600);
  });

  it('refuses to overwrite (exit 2), leaving the existing keys as they were', async () => {
    const first = await run(['keys', 'generate', '--out', dir, '--name', 'k']);
    expect(first.code).toBe(0);
    const before = await readFile(join(dir, 'k.key.pem'), 'utf8');
    const second = await run(['keys', 'generate', '--out', dir, '--name', 'k']);
    expect(second.code).toBe(2);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(/k\.key\.pem exists: not overwriting it/);
    expect(await readFile(join(dir, 'k.key.pem'), 'utf8')).toBe(before);
  });

  it('refuses when only the public key exists, and writes no private key', async () => {
    await writeFile(join(dir, 'k.pub.pem'), 'mine');
    const result = await run(['keys', 'generate', '--out', dir, '--name', 'k']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/k\.pub\.pem exists/);
    await expect(stat(join(dir, 'k.key.pem'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(dir, 'k.pub.pem'), 'utf8')).toBe('mine');
  });

  it.each(['../escape', 'a/b', '', '.hidden'])('refuses --name %j (exit 2)', async (name) => {
    const result = await run(['keys', 'generate', '--out', dir, '--name', name]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid --name/);
  });
});
