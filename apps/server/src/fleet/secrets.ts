import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256, hex: fit for secrets with 256 bits of entropy (no password hashing needed). */
export const sha256 = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Constant-time equality of two hex digests (same length by construction). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** 256 random bits, URL-safe. */
export const newSecret = (): string => randomBytes(32).toString('base64url');

/** The kinds of secret camfleet issues, by prefix: admin tokens, enrollment tokens, device secrets. */
export type IssuedKind = 'cft' | 'cfe';

/** A runtime token names its record: `cft_<id>_<secret>` (admin), `cfe_<id>_<secret>` (enrollment). */
export function issueToken(kind: IssuedKind): { id: string; token: string } {
  const id = randomBytes(6).toString('hex');
  return { id, token: `${kind}_${id}_${newSecret()}` };
}

/** The record id a runtime token names, or null when it is not one of that kind. */
export function parseIssuedToken(token: string, kind: IssuedKind): string | null {
  const match = new RegExp(`^${kind}_([a-f0-9]{12})_[A-Za-z0-9_-]{43}$`).exec(token);
  return match?.[1] ?? null;
}

/** A device's own secret, as provisioning, enrollment and rotation hand it out once. */
export const newDeviceSecret = (): string => `cfd_${newSecret()}`;
