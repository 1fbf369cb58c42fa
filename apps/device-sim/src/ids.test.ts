import { describe, expect, it } from 'vitest';
import { urlsFor } from './fleet.js';
import { deviceIdOf, deviceIds, prefixProblem } from './ids.js';

describe('device ids', () => {
  it('numbers from 1, padded to 4 digits', () => {
    expect(deviceIds('cam', 3)).toEqual(['cam-0001', 'cam-0002', 'cam-0003']);
    expect(deviceIdOf('cam', 9_999, 10_000)).toBe('cam-10000');
  });

  it('pads wider for fleets past 9999 so ids sort', () => {
    expect(deviceIdOf('cam', 0, 20_000)).toBe('cam-00001');
    const ids = deviceIds('x', 12_000);
    expect(new Set(ids).size).toBe(12_000);
    expect([...ids].sort()).toEqual(ids);
  });

  it('validates the prefix as part of a device id', () => {
    expect(prefixProblem('cam')).toBeNull();
    expect(prefixProblem('lab.site_a-b')).toBeNull();
    expect(prefixProblem('lab:site')).toMatch(/letters, digits and \. _ - only/);
    expect(prefixProblem('-cam')).not.toBeNull();
    expect(prefixProblem('ca m')).not.toBeNull();
    expect(prefixProblem('x'.repeat(130))).not.toBeNull();
  });
});

describe('urlsFor', () => {
  it('spreads devices round-robin, each failing over through all the rest', () => {
    const urls = ['a', 'b', 'c'];
    expect(urlsFor(urls, 0)).toEqual(['a', 'b', 'c']);
    expect(urlsFor(urls, 1)).toEqual(['b', 'c', 'a']);
    expect(urlsFor(urls, 5)).toEqual(['c', 'b', 'a']);
    expect(urlsFor(['only'], 7)).toEqual(['only']);
    for (let i = 0; i < 30; i++) expect(new Set(urlsFor(urls, i)).size).toBe(3);
  });

  it('sends a dead pod’s devices to all the other pods evenly', () => {
    const urls = ['a', 'b', 'c', 'd'];
    const next = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const [own, fallback] = urlsFor(urls, i);
      if (own === 'd') next.set(fallback ?? '', (next.get(fallback ?? '') ?? 0) + 1);
    }
    expect(Object.fromEntries(next)).toEqual({ a: 34, b: 33, c: 33 });
  });
});
