import { describe, expect, it } from 'vitest';
import { generateSigningKeys, signManifest, verifyManifest } from './signing.js';

const manifest = { name: 'cam-fw', version: '1.4.2', sha256: 'a'.repeat(64), size: 1234 };

describe('signed manifests', () => {
  const current = generateSigningKeys();
  const next = generateSigningKeys();

  it('verifies with the pinned key, and with any of several (rotation)', () => {
    const signature = signManifest(manifest, current.privateKeyPem);
    expect(signature.keyId).toBe(current.keyId);
    expect(verifyManifest(manifest, signature, [current.publicKeyPem])).toBe('valid');
    expect(
      verifyManifest(manifest, signManifest(manifest, next.privateKeyPem), [
        current.publicKeyPem,
        next.publicKeyPem,
      ]),
    ).toBe('valid');
  });

  it('refuses tampered manifests, unknown keys, forged signatures and missing ones', () => {
    const signature = signManifest(manifest, current.privateKeyPem);
    expect(verifyManifest({ ...manifest, sha256: 'b'.repeat(64) }, signature, [current.publicKeyPem])).toBe(
      'invalid',
    );
    expect(verifyManifest({ ...manifest, version: '1.4.3' }, signature, [current.publicKeyPem])).toBe(
      'invalid',
    );
    expect(verifyManifest(manifest, signature, [next.publicKeyPem])).toBe('unknown-key');
    const forged = { keyId: current.keyId, value: signManifest(manifest, next.privateKeyPem).value };
    expect(verifyManifest(manifest, forged, [current.publicKeyPem])).toBe('invalid');
    expect(verifyManifest(manifest, null, [current.publicKeyPem])).toBe('unsigned');
  });
});
