import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { verifyManifest } from '@camfleet/client';
import type { Manifest, Offer } from '@camfleet/contracts';

/** Which publishers a device trusts, and whether it installs only what they signed. */
export interface SignaturePolicy {
  /** Pinned Ed25519 public keys (PEM); several, so a publisher can rotate keys. Empty: none. */
  trustedKeys: readonly string[];
  /** Install only patches whose manifest a trusted key signed. */
  requireSignature: boolean;
}

export const NO_SIGNATURE_POLICY: SignaturePolicy = { trustedKeys: [], requireSignature: false };

export type SignatureResult = ReturnType<typeof verifyManifest>;

/**
 * What the device makes of an offer's signature:
 * - `unchecked`: no trusted keys and none required, or nothing to check (no artifact, not required);
 * - otherwise verifyManifest's answer, and whether the device installs (`ok`).
 * With --require-signature anything but `valid` is refused (an offer without an artifact has no
 * manifest to sign: `unsigned`). Without it, an `invalid` signature is still refused when keys
 * are configured; `unsigned` and `unknown-key` (a key this device does not pin) are installed.
 */
export type SignatureCheck =
  | { ok: true; result: SignatureResult | 'unchecked' }
  | { ok: false; result: SignatureResult; error: string };

/** The manifest a publisher signed for this offer: {name, version, sha256, size}; null without an artifact. */
export function manifestOf(patch: Offer['patch']): Manifest | null {
  if (!patch.artifact) return null;
  const { sha256, size } = patch.artifact;
  return { name: patch.name, version: patch.version, sha256, size };
}

export function checkSignature(patch: Offer['patch'], policy: SignaturePolicy): SignatureCheck {
  const manifest = manifestOf(patch);
  if (manifest === null) {
    return policy.requireSignature
      ? { ok: false, result: 'unsigned', error: 'signature unsigned' }
      : { ok: true, result: 'unchecked' };
  }
  if (policy.trustedKeys.length === 0 && !policy.requireSignature) return { ok: true, result: 'unchecked' };
  const result = verifyManifest(manifest, patch.signature ?? null, policy.trustedKeys);
  const refused = policy.requireSignature ? result !== 'valid' : result === 'invalid';
  return refused ? { ok: false, result, error: `signature ${result}` } : { ok: true, result };
}

/** A trusted-keys file that cannot be used. */
export class TrustedKeyError extends Error {
  override readonly name = 'TrustedKeyError';
}

/** Reads PEM public keys (Ed25519), one per file; throws TrustedKeyError naming the bad file. */
export async function loadTrustedKeys(files: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const file of files) {
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new TrustedKeyError(`${file}: cannot read (${code ?? String(error)})`);
    }
    if (/PRIVATE KEY/.test(pem)) throw new TrustedKeyError(`${file}: a private key; give the public one`);
    let type: string | undefined;
    try {
      type = createPublicKey(pem).asymmetricKeyType;
    } catch {
      throw new TrustedKeyError(`${file}: not a PEM public key`);
    }
    if (type !== 'ed25519') throw new TrustedKeyError(`${file}: not an Ed25519 key (${type ?? 'unknown'})`);
    keys.push(pem);
  }
  return keys;
}
