import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { listNumber, listOption, percentOption } from './validate.js';

describe('percentOption', () => {
  it.each([
    ['95%', 0.95],
    ['95', 0.95],
    [' 95 ', 0.95],
    ['99.5%', 0.995],
    ['100', 1],
    ['100%', 1],
    ['0', 0],
    ['0%', 0],
    ['0.5%', 0.005],
    ['1', 0.01],
    ['1.5', 0.015],
  ])('%s → %d', (text, share) => {
    expect(percentOption('--x', text)).toBeCloseTo(share, 12);
  });

  it('leaves a flag that was not given undefined', () => {
    expect(percentOption('--x', undefined)).toBeUndefined();
  });

  it.each(['101', '100.1%', '-5', '-5%', '', '%', 'abc', '95%%', '1e2', '0x10', '95 %', 'NaN', 'Infinity'])(
    'refuses %j',
    (text) => {
      expect(() => percentOption('--x', text)).toThrow(UsageError);
      expect(() => percentOption('--x', text)).toThrow(/invalid value for --x: .*a percentage from 0 to 100/);
    },
  );

  it.each(['0.95', '0.1', '.5'])('refuses the ambiguous %j, suggesting the % form', (text) => {
    expect(() => percentOption('--x', text)).toThrow(UsageError);
  });

  it('says how to write a percentage under one', () => {
    expect(() => percentOption('--x', '0.95')).toThrow(/ambiguous value for --x: '0.95' .*write 0.95%/);
  });
});

describe('list flags', () => {
  it('split on commas and trim', () => {
    expect(listOption('--x', 'a, b ,c')).toEqual(['a', 'b', 'c']);
    expect(listOption('--x', 'a')).toEqual(['a']);
  });

  it('refuse empty items', () => {
    for (const text of ['', 'a,', ',a', 'a,,b', ' , ']) {
      expect(() => listOption('--x', text)).toThrow(/without empty items/);
    }
  });

  it('read numbers, with a % only where allowed', () => {
    expect(listNumber('--x', '10')).toBe(10);
    expect(listNumber('--x', '2.5')).toBe(2.5);
    expect(listNumber('--x', '10%', true)).toBe(10);
    expect(() => listNumber('--x', '10%')).toThrow(/'10%' is not a number/);
    expect(() => listNumber('--x', '-1', true)).toThrow(UsageError);
    expect(() => listNumber('--x', '1e3')).toThrow(UsageError);
  });
});
