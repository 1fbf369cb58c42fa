import { describe, expect, it } from 'vitest';
import { IdleTracker } from './idle.js';

describe('IdleTracker', () => {
  it('is idle once nothing happened for idleMs', () => {
    const idle = new IdleTracker(1000, 0);
    expect(idle.isIdle(0, 999)).toBe(false);
    expect(idle.isIdle(0, 1000)).toBe(true);
  });

  it('restarts the quiet period on activity', () => {
    const idle = new IdleTracker(1000, 0);
    idle.touch(800);
    expect(idle.isIdle(0, 1500)).toBe(false);
    expect(idle.isIdle(0, 1800)).toBe(true);
  });

  it('is never idle while work is in progress, and counts it as activity', () => {
    const idle = new IdleTracker(1000, 0);
    expect(idle.isIdle(2, 5000)).toBe(false);
    expect(idle.isIdle(0, 5500)).toBe(false);
    expect(idle.isIdle(0, 6000)).toBe(true);
  });

  it('ignores a clock going backwards', () => {
    const idle = new IdleTracker(1000, 500);
    idle.touch(100);
    expect(idle.isIdle(0, 1500)).toBe(true);
  });
});
