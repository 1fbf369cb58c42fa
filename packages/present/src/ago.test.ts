import { describe, expect, it } from 'vitest';
import { AGO_COMPACT, AGO_SPACED, formatAgo } from './ago.js';

const now = 1_000_000_000;

describe('formatAgo, compact (the CLI)', () => {
  it('formats ages', () => {
    const now = 1_000_000_000;
    expect(formatAgo(now, now)).toBe('just now');
    expect(formatAgo(now - 45_000, now)).toBe('45s ago');
    expect(formatAgo(now - 3 * 60_000, now)).toBe('3m ago');
    expect(formatAgo(now - 5 * 3_600_000, now)).toBe('5h ago');
    expect(formatAgo(now - 3 * 86_400_000, now)).toBe('3d ago');
  });

  it.each([
    [0, 'just now'],
    [999, 'just now'],
    [-5_000, 'just now'],
    [1_000, '1s ago'],
    [45_000, '45s ago'],
    [59_999, '59s ago'],
    [60_000, '1m ago'],
    [3 * 60_000, '3m ago'],
    [3_599_999, '59m ago'],
    [5 * 3_600_000, '5h ago'],
    [47 * 3_600_000 + 3_599_999, '47h ago'],
    [48 * 3_600_000, '2d ago'],
    [3 * 86_400_000, '3d ago'],
  ])('%i ms → %s', (delta, text) => {
    expect(formatAgo(now - delta, now, AGO_COMPACT)).toBe(text);
    expect(formatAgo(now - delta, now)).toBe(text);
  });
});

describe('formatAgo, spaced (the dashboard)', () => {
  it.each([
    [0, '0 s ago'],
    [-5_000, '0 s ago'],
    [400, '0 s ago'],
    [500, '1 s ago'],
    [45_000, '45 s ago'],
    [59_400, '59 s ago'],
    [59_500, '1 min ago'],
    [3 * 60_000, '3 min ago'],
    [89 * 60_000, '1 h ago'],
    [90 * 60_000, '2 h ago'],
    [47 * 3_600_000, '47 h ago'],
    [48 * 3_600_000, '2 d ago'],
    [3 * 86_400_000, '3 d ago'],
  ])('%i ms → %s', (delta, text) => {
    expect(formatAgo(now - delta, now, AGO_SPACED)).toBe(text);
  });
});
