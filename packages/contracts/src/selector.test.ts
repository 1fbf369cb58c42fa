import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesSelector, parseSelector, SelectorError } from './selector.js';

describe('parseSelector', () => {
  it('reads every requirement form', () => {
    expect(
      parseSelector('model=cam-x, site in (berlin, paris),tier!=prod, gpu, !legacy, zone notin (a)'),
    ).toEqual([
      { key: 'model', op: 'eq', value: 'cam-x' },
      { key: 'site', op: 'in', values: ['berlin', 'paris'] },
      { key: 'tier', op: 'ne', value: 'prod' },
      { key: 'gpu', op: 'exists' },
      { key: 'legacy', op: 'absent' },
      { key: 'zone', op: 'notin', values: ['a'] },
    ]);
  });

  for (const [bad, why] of [
    ['', /empty selector/],
    ['site=berlin,', /empty requirement/],
    ['site in (a,b', /unbalanced/],
    ['site in a,b)', /unbalanced/],
    ['site in (a,,b)', /empty value/],
    ['si te=x', /cannot read|bad label key/],
    ['site=ber lin', /bad value/],
    ['=x', /cannot read|bad label key/],
  ] as const) {
    it(`refuses ${JSON.stringify(bad)} with a clear reason`, () => {
      expect(() => parseSelector(bad)).toThrow(SelectorError);
      expect(() => parseSelector(bad)).toThrow(why);
    });
  }
});

describe('matchesSelector', () => {
  const labels = { site: 'berlin', tier: 'canary' };
  it('applies all requirements', () => {
    expect(matchesSelector(parseSelector('site=berlin,tier!=prod'), labels, 'cam-x')).toBe(true);
    expect(matchesSelector(parseSelector('site=berlin,tier=prod'), labels, 'cam-x')).toBe(false);
    expect(matchesSelector(parseSelector('model in (cam-x,cam-y)'), labels, 'cam-x')).toBe(true);
    expect(matchesSelector(parseSelector('!tier'), labels, 'cam-x')).toBe(false);
    expect(matchesSelector(parseSelector('zone notin (a)'), labels, 'cam-x')).toBe(true);
  });

  it('never throws on what it parsed, whatever the labels (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('site', 'tier', 'zone'), fc.constantFrom('a', 'b', 'berlin')),
        fc.constantFrom('site=a', 'tier!=b', 'zone in (a,b)', 'site notin (berlin)', 'tier', '!zone'),
        (l, text) => {
          const result = matchesSelector(parseSelector(text), l, 'm');
          expect(typeof result).toBe('boolean');
        },
      ),
    );
  });
});
