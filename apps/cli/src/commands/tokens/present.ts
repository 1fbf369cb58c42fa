import type { TokenInfo } from '@camfleet/contracts';
import type { Colors } from '../../colors.js';
import type { Session } from '../../session.js';
import { formatTimestamp, formatWhen } from '../../time.js';

export type TokenStatus = 'active' | 'expired' | 'revoked' | 'used up';

/** Revoked wins over expired, expired over used up. */
export function tokenStatus(
  token: Pick<TokenInfo, 'expiresAt' | 'revokedAt'> & { usesLeft?: number | null },
  now: number,
): TokenStatus {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  if (token.usesLeft === 0) return 'used up';
  return 'active';
}

/** `active` in green, `revoked` in red, the rest grey. */
export function colorTokenStatus(status: TokenStatus, c: Colors): string {
  switch (status) {
    case 'active':
      return c.green(status);
    case 'revoked':
      return c.red(status);
    default:
      return c.gray(status);
  }
}

export function expiresText(expiresAt: number | null): string {
  return expiresAt === null ? 'never' : formatTimestamp(expiresAt);
}

export function expiresNote(expiresAt: number | null): string {
  return expiresAt === null ? 'never expires' : `expires ${formatTimestamp(expiresAt)}`;
}

export function tokensTable(tokens: readonly TokenInfo[], s: Session): string {
  const now = s.now();
  return s.table(
    ['ID', 'NAME', 'ROLE', 'CREATED', 'BY', 'EXPIRES', 'STATUS'],
    tokens.map((t) => [
      t.id,
      t.name,
      t.role,
      formatWhen(t.createdAt, now),
      t.createdBy,
      expiresText(t.expiresAt),
      colorTokenStatus(tokenStatus(t, now), s.c),
    ]),
  );
}
