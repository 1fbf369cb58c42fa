import { progressOf } from '@camfleet/present';
import { describe, expect, it } from 'vitest';
import { colorsFor } from '../../colors.js';
import { stripAnsi } from '../../table.js';
import { captured, hasAnsi, NOW, rolloutFixture, wavedFixture } from '../../test-helpers.js';
import {
  colorRolloutStatus,
  gateText,
  scheduleDetail,
  statusCause,
  statusLine,
  statusSummary,
  waveLabel,
  windowsDetail,
} from './present.js';

describe('rollout progress', () => {
  it('counts finished over targeted', () => {
    const status = rolloutFixture({ succeeded: 6, failed: 1, canceled: 1, queued: 1, installing: 1 });
    expect(progressOf(status)).toEqual({ finished: 8, open: 2, targeted: 10, percent: 80 });
    expect(statusSummary(status)).toBe('8/10 finished, 6 succeeded, 1 failed, 1 canceled, 2 in progress');
  });

  it('says how far the attach got while the pods attach the rollout', () => {
    const status = rolloutFixture({ queued: 3 }, { attach: { buckets: 40, of: 64 } });
    expect(statusSummary(status)).toBe(
      '0/3 finished, 0 succeeded, 3 in progress, attached in 40/64 buckets so far',
    );
  });

  it('is 0% with nothing targeted', () => {
    expect(progressOf(rolloutFixture()).percent).toBe(0);
  });

  it('counts verifying as in progress, not finished', () => {
    const status = rolloutFixture({ succeeded: 1, installing: 1, verifying: 2 });
    expect(progressOf(status)).toEqual({ finished: 1, open: 3, targeted: 4, percent: 25 });
    expect(statusSummary(status)).toBe('1/4 finished, 1 succeeded, 3 in progress');
  });
});

describe('rollout status, waves and gates', () => {
  const plain = colorsFor(captured(false), {});

  it('counts waves from 1', () => {
    expect(waveLabel({ wave: 0, waves: [1, 10, 100] })).toBe('1/3');
    expect(waveLabel({ wave: 2, waves: [1, 10, 100] })).toBe('3/3');
  });

  it.each([
    [{ kind: 'paused', reason: 'maintenance window' }, 'paused: maintenance window'],
    [{ kind: 'paused', reason: ' ' }, 'paused'],
    [{ kind: 'paused', reason: 'paused' }, 'paused'],
    [
      { kind: 'operator', wave: 1 },
      'waiting for an operator to open wave 2: fleet rollout advance ro_xyz789',
    ],
    [
      { kind: 'success', wave: 0, needed: 0.95, reached: 0.8 },
      'waiting for wave 1 to reach 95% success (80% now)',
    ],
    [{ kind: 'soak', wave: 1, until: NOW + 30 * 60_000 }, 'soaking until 12:30:00Z (in 30m)'],
  ] as const)('describes the gate %j', (gate, text) => {
    expect(gateText(gate, 'ro_xyz789', NOW)).toBe(text);
  });

  it('names who set a status and why, only for paused, canceled and aborted', () => {
    const base = { reason: 'why', statusBy: 'bob' };
    expect(statusCause({ ...base, status: 'paused' })).toBe('by bob: why');
    expect(statusCause({ ...base, status: 'aborted', statusBy: null })).toBe('why');
    expect(statusCause({ ...base, status: 'canceled', reason: null })).toBe('by bob');
    expect(statusCause({ status: 'canceled', reason: null, statusBy: null })).toBeNull();
    expect(statusCause({ ...base, status: 'active' })).toBeNull();
    expect(statusCause({ ...base, status: 'completed' })).toBeNull();
  });

  it('puts a rollout on one line, with its wave when it has several', () => {
    expect(statusLine(rolloutFixture({ succeeded: 3 }), plain)).toBe(
      'ro_xyz789 completed: 3/3 finished, 3 succeeded',
    );
    const paused = wavedFixture([1, 100], [{ succeeded: 1 }, { queued: 2 }], {
      status: 'paused',
      reason: 'look at cam-7',
      statusBy: 'bob',
    });
    expect(statusLine(paused, plain)).toBe(
      'ro_xyz789 paused, wave 2/2: 1/3 finished, 1 succeeded, 2 in progress (by bob: look at cam-7)',
    );
  });

  it('colours every rollout status on a terminal', () => {
    const c = colorsFor(captured(true), {});
    for (const status of ['active', 'paused', 'completed', 'canceled', 'aborted'] as const) {
      expect(hasAnsi(colorRolloutStatus(status, c))).toBe(true);
      expect(stripAnsi(colorRolloutStatus(status, c))).toBe(status);
    }
  });
});

describe('scheduleDetail', () => {
  const now = Date.UTC(2026, 11, 24, 0, 0, 0);
  it('says when the rollout starts and ends, and what its end does', () => {
    expect(
      scheduleDetail({ startAt: now + 3_600_000, endBy: now + 4 * 3_600_000, atEnd: 'finish' }, now),
    ).toBe(
      'starts 2026-12-24T01:00:00.000Z (in 1h), ends 2026-12-24T04:00:00.000Z (in 4h): what is in flight finishes',
    );
    expect(scheduleDetail({ startAt: null, endBy: now + 60_000, atEnd: 'cancel' }, now)).toBe(
      'ends 2026-12-24T00:01:00.000Z (in 1m): what is open is canceled',
    );
  });
});

describe('windowsDetail', () => {
  it('lists the windows, whose zone applies, and how many devices wait for theirs', () => {
    const windows = [{ days: ['Mon', 'Fri'] as const, start: '01:00', end: '04:00' }].map((w) => ({
      ...w,
      days: [...w.days],
    }));
    expect(windowsDetail({ windows, windowZone: 'Europe/Berlin', windowWaiting: 3 })).toBe(
      'Mon,Fri 01:00-04:00 device-local (tz label, else Europe/Berlin); 3 waiting for their window',
    );
  });
});
