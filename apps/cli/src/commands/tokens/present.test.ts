import { describe, expect, it } from 'vitest';
import { NOW } from '../../test-helpers.js';
import { tokenStatus } from './present.js';

describe('tokenStatus', () => {
  it('revoked wins over expired, expired over used up', () => {
    expect(tokenStatus({ expiresAt: null, revokedAt: null }, NOW)).toBe('active');
    expect(tokenStatus({ expiresAt: NOW + 1, revokedAt: null }, NOW)).toBe('active');
    expect(tokenStatus({ expiresAt: NOW, revokedAt: null }, NOW)).toBe('expired');
    expect(tokenStatus({ expiresAt: NOW - 1, revokedAt: NOW - 5 }, NOW)).toBe('revoked');
    expect(tokenStatus({ expiresAt: null, revokedAt: null, usesLeft: 0 }, NOW)).toBe('used up');
    expect(tokenStatus({ expiresAt: NOW - 1, revokedAt: null, usesLeft: 0 }, NOW)).toBe('expired');
    expect(tokenStatus({ expiresAt: null, revokedAt: null, usesLeft: null }, NOW)).toBe('active');
  });
});
