import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { type Manifest, manifestText, type Signature } from '@camfleet/contracts';

/** A key's id: the first 16 hex characters of the SHA-256 of its raw 32-byte public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A fresh Ed25519 key pair, as PEM. The private key stays with the publisher. */
export function generateSigningKeys(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Signs a manifest with an Ed25519 private key (PEM). */
export function signManifest(manifest: Manifest, privateKeyPem: string): Signature {
  const privateKey = createPrivateKey(privateKeyPem);
  const value = sign(null, Buffer.from(manifestText(manifest)), privateKey).toString('base64');
  return { keyId: keyIdOf(createPublicKey(privateKey)), value };
}

/**
 * Verifies a manifest's signature against pinned public keys (PEM; several, so keys can rotate).
 * 'valid' only if a pinned key with the signature's id verifies these exact manifest bytes.
 */
export function verifyManifest(
  manifest: Manifest,
  signature: Signature | null,
  trustedPublicKeysPem: readonly string[],
): 'valid' | 'unsigned' | 'unknown-key' | 'invalid' {
  if (!signature) return 'unsigned';
  const key = trustedPublicKeysPem
    .map((pem) => createPublicKey(pem))
    .find((k) => keyIdOf(k) === signature.keyId);
  if (!key) return 'unknown-key';
  const ok = verify(null, Buffer.from(manifestText(manifest)), key, Buffer.from(signature.value, 'base64'));
  return ok ? 'valid' : 'invalid';
}
