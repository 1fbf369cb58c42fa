import { CreateRolloutInput, type TargetPreview } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { planLines, waveSizes } from './plan.js';

const preview: TargetPreview = {
  matched: 1240,
  online: 1100,
  offline: 140,
  exact: true,
  scanned: 1500,
  fleet: 1500,
  unknown: null,
  perFirmware: [],
  sample: [],
};
const at = (ms: number) => `at ${new Date(ms).toISOString()}`;

describe('planLines', () => {
  it('says what the issue asks for: devices, waves, in-flight cap', () => {
    const settings = CreateRolloutInput.parse({
      patchId: 'pat_0123456789abcdef',
      waves: [1, 10, 100],
      maxInFlight: 20,
    });
    const lines = planLines(settings, preview, { at });
    expect(lines[0]).toBe(
      '1,240 devices in 3 waves (1%: ~12, 10%: ~112, 100%: ~1,116), at most 20 at a time',
    );
    expect(lines[1]).toBe('1,100 online now; 140 offline get it when they connect');
    expect(lines).toContain('each next wave opens once 100% of the one before succeeded');
    expect(lines).toContain('failures never pause it');
    expect(lines).toContain('each device: up to 5 attempts, 1m to report, retries after 2s to 1m');
  });

  it('names every setting that was given', () => {
    const settings = CreateRolloutInput.parse({
      patchId: 'pat_0123456789abcdef',
      waves: [50, 100],
      advance: 'manual',
      maxPerMinute: 300,
      ramp: { startPerMinute: 10, factor: 2, everySuccesses: 50 },
      failureThreshold: 0.05,
      onFailure: 'abort',
      minSample: 20,
      countTimeouts: true,
      startAt: Date.UTC(2026, 11, 24, 1),
      endBy: Date.UTC(2026, 11, 24, 5),
      atEnd: 'finish',
      windows: [{ days: ['Mon', 'Tue'], start: '01:00', end: '04:00' }],
      windowZone: 'Europe/Berlin',
      downloadAhead: true,
      snapshot: true,
      supersede: true,
    });
    const lines = planLines(settings, { ...preview, exact: false, scanned: 5000, fleet: 200_000 }, { at });
    expect(lines).toEqual([
      'about 1,240 devices in 2 waves (50%: ~620, 100%: ~620)',
      '1,100 online now; 140 offline get it when they connect (estimated from 5,000 devices of 200,000)',
      'each next wave opens when an operator advances it',
      'at most 300 offers a minute',
      'ramp: 10 offers a minute to start, ×2 every 50 successes',
      'aborts once more than 5% of finished deliveries failed (from 20 finished, timeouts counted)',
      'each device: up to 5 attempts, 1m to report, retries after 2s to 1m',
      'starts at 2026-12-24T01:00:00.000Z',
      'ends at 2026-12-24T05:00:00.000Z: nothing new starts, what is in flight finishes',
      'installs only inside Mon,Tue 01:00-04:00, device-local (tz label, else Europe/Berlin); downloads ahead',
      'only the devices targeted now',
      'cancels queued deliveries of older rollouts on these devices',
    ]);
  });

  it('splits devices over waves so the sizes add up to all of them', () => {
    for (const devices of [0, 1, 7, 1240, 99_999]) {
      const sizes = waveSizes([1, 10, 33.3, 100], devices);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(devices);
      expect(sizes.every((n) => n >= 0)).toBe(true);
    }
  });
});
