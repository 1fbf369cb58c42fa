import { describe, expect, it } from 'vitest';
import { NOW } from './test-helpers.js';
import { formatIn, formatTimeOfDay, formatTimestamp } from './time.js';

describe('time', () => {
  it('formats timestamps in UTC to the second', () => {
    expect(formatTimestamp(Date.UTC(2025, 2, 1, 4, 5, 9, 999))).toBe('2025-03-01 04:05:09Z');
  });

  it('formats times to come', () => {
    expect(formatTimeOfDay(NOW + 30 * 60_000, NOW)).toBe('12:30:00Z');
    expect(formatTimeOfDay(NOW + 24 * 3_600_000, NOW)).toBe('2025-03-02 12:00:00Z');
    expect(formatIn(NOW + 90_000, NOW)).toBe('in 1.5m');
    expect(formatIn(NOW - 5_000, NOW)).toBe('now');
  });
});
