import { describe, expect, it } from 'vitest';
import { offsetSeconds, windowsRule, zoneInfo } from './zones.js';

describe('zones for the scripts', () => {
  it('gives the offset now, the next change to the second, and the offset after it', () => {
    // Berlin leaves winter time on the last Sunday of March 2026, at 01:00 UTC.
    expect(zoneInfo('Europe/Berlin', Date.UTC(2026, 0, 15))).toBe(`3600,${Date.UTC(2026, 2, 29, 1)},7200`);
    expect(zoneInfo('America/New_York', Date.UTC(2026, 6, 1))).toBe(
      `-14400,${Date.UTC(2026, 10, 1, 6)},-18000`,
    );
    expect(offsetSeconds('Asia/Kolkata', Date.UTC(2026, 0, 1))).toBe(19_800);
  });

  it('says a zone without changes never changes, and knows no unknown zone', () => {
    expect(zoneInfo('Asia/Tokyo', Date.UTC(2026, 0, 1))).toBe('32400,0,32400');
    expect(zoneInfo('Mars/Olympus', Date.UTC(2026, 0, 1))).toBe('');
    expect(zoneInfo(undefined, Date.UTC(2026, 0, 1))).toBe('');
  });

  it('writes windows as weekday bits from Sunday and seconds of the day', () => {
    expect(
      windowsRule([
        { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '01:00', end: '04:00' },
        { days: ['Sun', 'Sat'], start: '22:00:30', end: '02:00' },
      ]),
    ).toBe('62,3600,14400;65,79230,7200');
  });
});
