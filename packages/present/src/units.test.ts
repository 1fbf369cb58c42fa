import { describe, expect, it } from 'vitest';
import { formatBytes, formatPercent, percentOf } from './units.js';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [300 * 1024 + 7, '300 KiB'],
    [5 * 1024 * 1024, '5 MiB'],
    [1.25 * 1024 ** 3, '1.3 GiB'],
  ])('%i → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([
    [2 * 1024 ** 4, '2 TiB'],
    [2 * 1024 ** 5, '2048 TiB'],
    [Number.NaN, 'NaN B'],
  ])('%d → %s (past the largest unit; not a number)', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('percentages', () => {
  it('formats shares as percentages', () => {
    expect(formatPercent(0.95)).toBe('95%');
    expect(formatPercent(0.995)).toBe('99.5%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(5 / 6)).toBe('83.3%');
  });

  it('formats shares as whole percentages with 0 decimals', () => {
    expect(formatPercent(0.995, 0)).toBe('100%');
    expect(formatPercent(0.994, 0)).toBe('99%');
    expect(formatPercent(0.125, 0)).toBe('13%');
  });

  it('gives a part of a whole as a whole percentage, 0% of nothing', () => {
    expect(percentOf(1, 3)).toBe('33%');
    expect(percentOf(2, 3)).toBe('67%');
    expect(percentOf(1, 8)).toBe('13%');
    expect(percentOf(22, 22)).toBe('100%');
    expect(percentOf(0, 0)).toBe('0%');
    expect(percentOf(5, 0)).toBe('0%');
  });

  it('rounds a part of a whole as Math.round does', () => {
    for (let whole = 1; whole <= 200; whole++) {
      for (let part = 0; part <= whole; part++) {
        expect(percentOf(part, whole)).toBe(`${Math.round((part / whole) * 100)}%`);
      }
    }
  });
});
