import type { EnrollTokenInfo } from '@camfleet/contracts';
import type { Session } from '../../session.js';
import { formatWhen } from '../../time.js';
import { colorTokenStatus, expiresText, tokenStatus } from '../tokens/present.js';

export function enrollTokensTable(tokens: readonly EnrollTokenInfo[], s: Session): string {
  const now = s.now();
  return s.table(
    ['ID', 'NAME', 'USES LEFT', 'CREATED', 'BY', 'EXPIRES', 'STATUS'],
    tokens.map((t) => [
      t.id,
      t.name,
      t.usesLeft ?? 'unlimited',
      formatWhen(t.createdAt, now),
      t.createdBy,
      expiresText(t.expiresAt),
      colorTokenStatus(tokenStatus(t, now), s.c),
    ]),
    ['left', 'left', 'right'],
  );
}
