import { z } from 'zod';

/**
 * What a publisher signs: the patch's identity and content digest. The signature covers this
 * exact string (keys in this order, no spaces), so every party rebuilds the same bytes.
 */
export interface Manifest {
  name: string;
  version: string;
  sha256: string;
  size: number;
}

export function manifestText(m: Manifest): string {
  return JSON.stringify({ name: m.name, version: m.version, sha256: m.sha256, size: m.size });
}

/** An Ed25519 signature of the manifest, and the id of the key that made it. */
export const Signature = z.object({
  /** First 16 hex characters of the SHA-256 of the public key (raw 32 bytes). */
  keyId: z.string().regex(/^[a-f0-9]{16}$/),
  /** base64 of the 64-byte Ed25519 signature. */
  value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 Ed25519 signature'),
});
export type Signature = z.infer<typeof Signature>;

export const Sha256 = z.string().regex(/^[a-f0-9]{64}$/, 'a lowercase hex SHA-256');
