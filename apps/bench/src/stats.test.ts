import { describe, expect, it } from 'vitest';
import { deltas, median, medianOf, quantile } from './stats.js';

describe('quantile', () => {
  it('is nearest-rank over unsorted input', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(quantile(values, 0.5)).toBe(5);
    expect(quantile(values, 0.99)).toBe(10);
    expect(quantile(values, 0)).toBe(1);
    expect(median([3, 1, 2])).toBe(2);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('medianOf', () => {
  it('takes the median of each numeric field across runs', () => {
    const runs = [
      { devices: 10, ms: 300, label: 'a' },
      { devices: 10, ms: 100, label: 'b' },
      { devices: 10, ms: 200, label: 'c' },
    ];
    expect(medianOf(runs)).toEqual({ devices: 10, ms: 200, label: 'a' });
  });
});

describe('deltas', () => {
  it('subtracts counters, new keys counting from zero', () => {
    expect(deltas({ evalsha: 10, get: 1 }, { evalsha: 25, get: 1, xadd: 4 })).toEqual({
      evalsha: 15,
      get: 0,
      xadd: 4,
    });
  });
});
