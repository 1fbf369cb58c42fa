import { describe, expect, it } from 'vitest';
import { NOW } from '../../test-helpers.js';
import { yyyymmdd } from './flags.js';

describe('default names', () => {
  it('names tokens by the UTC date', () => {
    expect(yyyymmdd(NOW)).toBe('20250301');
    expect(yyyymmdd(Date.UTC(2025, 11, 31, 23, 59, 59))).toBe('20251231');
  });
});
