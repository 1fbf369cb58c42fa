import type { StateCounts } from '@camfleet/contracts';
import { DELIVERY_STATES } from '@camfleet/contracts/states';
import { describe, expect, it } from 'vitest';
import { countOf, finishedOf, openOf, progressOf, totalOf } from './counts.js';

const counts = (some: Partial<StateCounts>): StateCounts => ({
  ...(Object.fromEntries(DELIVERY_STATES.map((state) => [state, 0])) as StateCounts),
  ...some,
});

describe('counts', () => {
  const mixed = counts({ queued: 1, offered: 2, verifying: 3, succeeded: 4, failed: 5, canceled: 6 });

  it('add up the states asked for', () => {
    expect(countOf(mixed, ['offered', 'failed'])).toBe(7);
    expect(countOf(mixed, [])).toBe(0);
  });

  it('split into open (verifying too) and finished, which add up to the total', () => {
    expect(openOf(mixed)).toBe(6);
    expect(finishedOf(mixed)).toBe(15);
    expect(totalOf(mixed)).toBe(21);
  });
});

describe('progressOf', () => {
  it('counts finished over targeted, in whole percent rounded down', () => {
    const status = {
      targeted: 10,
      counts: counts({ succeeded: 6, failed: 1, canceled: 1, queued: 1, installing: 1 }),
    };
    expect(progressOf(status)).toEqual({ finished: 8, open: 2, targeted: 10, percent: 80 });
    expect(progressOf({ targeted: 3, counts: counts({ succeeded: 2, queued: 1 }) }).percent).toBe(66);
  });

  it('is 0% with nothing targeted', () => {
    expect(progressOf({ targeted: 0, counts: counts({}) })).toEqual({
      finished: 0,
      open: 0,
      targeted: 0,
      percent: 0,
    });
  });
});
