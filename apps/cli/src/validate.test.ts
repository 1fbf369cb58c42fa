import { parseLongDuration } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import {
  EXPIRY_MAX_MS,
  expiryOption,
  labelsOption,
  listNumber,
  listOption,
  percentOption,
} from './validate.js';

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

describe('long durations', () => {
  it.each([
    ['30d', 30 * 86_400_000],
    ['1.5d', 1.5 * 86_400_000],
    [' 7d ', 7 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['60s', 60_000],
    ['500ms', 500],
    ['1000', 1000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseLongDuration(text)).toBe(ms);
  });

  it.each(['', 'd', '7 d', '7days', '-1d', '1w', 'soon'])('refuses %j', (text) => {
    expect(parseLongDuration(text)).toBeNull();
  });

  it('token lifetimes run from 1m to 1095d; never or none given is null', () => {
    expect(expiryOption('--expires', undefined)).toBeNull();
    expect(expiryOption('--expires', 'never')).toBeNull();
    expect(expiryOption('--expires', '1m')).toBe(60_000);
    expect(expiryOption('--expires', '1095d')).toBe(EXPIRY_MAX_MS);
    expect(() => expiryOption('--expires', '59s')).toThrow(
      /invalid value for --expires: '59s' \(from 1m to 1095d/,
    );
    expect(() => expiryOption('--expires', '1096d')).toThrow(UsageError);
    expect(() => expiryOption('--expires', 'later')).toThrow(/invalid duration for --expires: 'later'/);
  });
});

describe('labelsOption', () => {
  it('reads key=value pairs, trimmed; a value may be empty or hold =', () => {
    expect(labelsOption('--labels', undefined)).toBeUndefined();
    expect(labelsOption('--labels', 'site=berlin, tier = canary,empty=,eq=a=b')).toEqual({
      site: 'berlin',
      tier: 'canary',
      empty: '',
      eq: 'a=b',
    });
  });

  it.each([
    ['site', /labels are key=value/],
    ['=x', /labels are key=value/],
    ['a=1,', /without empty items/],
    ['a=1,a=2', /label 'a' given twice/],
    ['__proto__=x', /invalid label key '__proto__'/],
    ['b@d=1', /invalid label key 'b@d'/],
  ])('refuses %j', (text, message) => {
    expect(() => labelsOption('--labels', text)).toThrow(UsageError);
    expect(() => labelsOption('--labels', text)).toThrow(message);
  });
});
