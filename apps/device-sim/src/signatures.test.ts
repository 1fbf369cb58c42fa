import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeys, signManifest } from '@camfleet/client';
import type { Offer } from '@camfleet/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSignature, loadTrustedKeys, manifestOf, TrustedKeyError } from './signatures.js';

const oldKey = generateSigningKeys();
const newKey = generateSigningKeys();
const stranger = generateSigningKeys();
const artifact = { sha256: 'ab'.repeat(32), size: 1234, url: `/artifacts/${'ab'.repeat(32)}` };

function patch(overrides: Partial<Offer['patch']> = {}, key = oldKey): Offer['patch'] {
  const base = {
    id: 'pat_1',
    name: 'fw',
    version: '2.0.0',
    notes: '',
    artifact,
    delta: null,
    signature: null,
  };
  const signature = signManifest(
    { name: 'fw', version: '2.0.0', sha256: artifact.sha256, size: 1234 },
    key.privateKeyPem,
  );
  return { ...base, signature, ...overrides };
}

const policy = (keys: { publicKeyPem: string }[], requireSignature: boolean) => ({
  trustedKeys: keys.map((k) => k.publicKeyPem),
  requireSignature,
});

describe('checkSignature', () => {
  it('builds the manifest from the offer: name, version, sha256, size', () => {
    expect(manifestOf(patch())).toEqual({
      name: 'fw',
      version: '2.0.0',
      sha256: artifact.sha256,
      size: 1234,
    });
    expect(manifestOf(patch({ artifact: null }))).toBeNull();
  });

  it('with --require-signature installs only what a trusted key signed', () => {
    const strict = policy([oldKey], true);
    expect(checkSignature(patch(), strict)).toEqual({ ok: true, result: 'valid' });
    expect(checkSignature(patch({ signature: null }), strict)).toEqual({
      ok: false,
      result: 'unsigned',
      error: 'signature unsigned',
    });
    expect(checkSignature(patch({}, stranger), strict)).toMatchObject({
      ok: false,
      error: 'signature unknown-key',
    });
    expect(checkSignature(patch({ version: '2.0.1' }), strict)).toMatchObject({
      ok: false,
      error: 'signature invalid',
    });
    // Nothing to sign without an artifact: as unsigned.
    expect(checkSignature(patch({ artifact: null, signature: null }), strict)).toMatchObject({
      ok: false,
      error: 'signature unsigned',
    });
  });

  it('without it refuses only an invalid signature, when it has keys to check with', () => {
    const lenient = policy([oldKey], false);
    expect(checkSignature(patch(), lenient)).toEqual({ ok: true, result: 'valid' });
    expect(checkSignature(patch({ signature: null }), lenient)).toEqual({ ok: true, result: 'unsigned' });
    expect(checkSignature(patch({}, stranger), lenient)).toEqual({ ok: true, result: 'unknown-key' });
    for (const tampered of [
      { version: '9.9.9' },
      { name: 'other' },
      { artifact: { ...artifact, size: 1 } },
    ]) {
      expect(checkSignature(patch(tampered), lenient)).toMatchObject({
        ok: false,
        error: 'signature invalid',
      });
    }
    // No keys: nothing checked (today's behaviour).
    expect(checkSignature(patch({ version: '9.9.9' }), policy([], false))).toEqual({
      ok: true,
      result: 'unchecked',
    });
    expect(checkSignature(patch({ artifact: null, signature: null }), lenient)).toEqual({
      ok: true,
      result: 'unchecked',
    });
  });

  it('trusts every key given, so a publisher can rotate', () => {
    const both = policy([oldKey, newKey], true);
    expect(checkSignature(patch({}, oldKey), both).ok).toBe(true);
    expect(checkSignature(patch({}, newKey), both).ok).toBe(true);
    expect(checkSignature(patch({}, newKey), policy([oldKey], true))).toMatchObject({
      result: 'unknown-key',
    });
  });
});

describe('loadTrustedKeys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'device-sim-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads Ed25519 public keys, and names the file it cannot use', async () => {
    const good = join(dir, 'a.pub.pem');
    const other = join(dir, 'b.pub.pem');
    await writeFile(good, oldKey.publicKeyPem);
    await writeFile(other, newKey.publicKeyPem);
    expect(await loadTrustedKeys([good, other])).toEqual([oldKey.publicKeyPem, newKey.publicKeyPem]);
    expect(await loadTrustedKeys([])).toEqual([]);

    const rsa = join(dir, 'rsa.pub.pem');
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await writeFile(rsa, publicKey.export({ type: 'spki', format: 'pem' }));
    const priv = join(dir, 'a.pem');
    await writeFile(priv, oldKey.privateKeyPem);
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'hello');
    await expect(loadTrustedKeys([good, join(dir, 'missing.pem')])).rejects.toThrow(
      /missing\.pem: cannot read \(ENOENT\)/,
    );
    await expect(loadTrustedKeys([rsa])).rejects.toThrow(/rsa\.pub\.pem: not an Ed25519 key \(rsa\)/);
    await expect(loadTrustedKeys([priv])).rejects.toThrow(/a private key/);
    await expect(loadTrustedKeys([junk])).rejects.toBeInstanceOf(TrustedKeyError);
  });
});
