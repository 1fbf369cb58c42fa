import { describe, expect, it } from 'vitest';
import { maxInFlight, pacedPerMinute } from './delivery-events.js';

const offered = (at: number) => ({ at, from: 'pending', to: 'offered' });
const done = (at: number) => ({ at, from: 'installing', to: 'succeeded' });

describe('maxInFlight', () => {
  it('counts overlapping deliveries, and a slot freed and retaken in the same ms as one', () => {
    expect(maxInFlight([offered(1), offered(2), done(3), offered(3), offered(4)])).toBe(3);
    expect(maxInFlight([offered(5), done(5), offered(1)])).toBe(1);
    expect(maxInFlight([])).toBe(0);
  });

  it('does not count moves within flight (offered → installing) twice', () => {
    expect(maxInFlight([offered(1), { at: 2, from: 'offered', to: 'installing' }, done(3)])).toBe(1);
  });
});

describe('pacedPerMinute', () => {
  it('measures the rate beyond the one-second burst', () => {
    // 60/min: a burst of 1, then one a second.
    const events = [0, 0, 1000, 2000, 3000].map(offered);
    expect(pacedPerMinute(events, 60)).toBe(80);
    expect(pacedPerMinute([0, 1000, 2000, 3000].map(offered), 60)).toBe(60);
    // 120/min: a burst of 2 spread out by an in-flight cap still counts as the burst.
    expect(pacedPerMinute([0, 400, 800, 1000, 1500, 2000].map(offered), 120)).toBe(120);
  });

  it('widens the span by a slack for stamping delays', () => {
    expect(pacedPerMinute([0, 1000, 2000, 3000].map(offered), 60, { slackMs: 1000 })).toBe(45);
  });

  it('has no answer with too few offers after the burst', () => {
    expect(pacedPerMinute([offered(0), offered(10)], 120)).toBeNull();
    expect(pacedPerMinute([offered(5), offered(5), offered(5)], 60)).toBeNull();
  });
});
