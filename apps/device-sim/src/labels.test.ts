import { describe, expect, it } from 'vitest';
import { parseLabels } from './labels.js';

describe('parseLabels', () => {
  it('parses k=v pairs, trimming spaces', () => {
    expect(parseLabels('site=berlin, tier = canary')).toEqual({ site: 'berlin', tier: 'canary' });
  });

  it('allows empty input and empty values, and = inside values', () => {
    expect(parseLabels('')).toEqual({});
    expect(parseLabels('  ')).toEqual({});
    expect(parseLabels('note=')).toEqual({ note: '' });
    expect(parseLabels('expr=a=b')).toEqual({ expr: 'a=b' });
  });

  it.each([
    ['site', /key=value/],
    ['=berlin', /key=value/],
    ['site=a,site=b', /twice/],
    ['a=1,,b=2', /key=value/],
    ['-bad=1', /invalid labels/],
    [`k=${'x'.repeat(129)}`, /invalid labels/],
    [Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','), /at most 32/],
  ])('rejects %j', (text, message) => {
    expect(() => parseLabels(text)).toThrow(message);
  });
});
