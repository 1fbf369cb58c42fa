import { CreateRolloutInput } from '@camfleet/contracts/forms';
import { describe, expect, it } from 'vitest';
import { EMPTY_FORM, type RolloutForm, readRolloutForm } from './rollout-form.js';

const PATCH = 'pat_0123456789abcdef';
const form = (fields: Partial<RolloutForm>): RolloutForm => ({ ...EMPTY_FORM, patchId: PATCH, ...fields });

describe('the new-rollout form, read into CreateRolloutInput', () => {
  it('leaves empty fields to the server defaults', () => {
    expect(readRolloutForm(form({}))).toEqual({
      ok: true,
      input: CreateRolloutInput.parse({ patchId: PATCH, target: { kind: 'all' } }),
    });
  });

  it('reads every field as the CLI reads its flags', () => {
    const read = readRolloutForm(
      form({
        targetKind: 'devices',
        devices: 'cam-1, cam-2\ncam-3 cam-1',
        waves: '10%,50,100',
        advance: 'manual',
        successThreshold: '95%',
        soak: '10m',
        maxInFlight: '20',
        maxPerMinute: '300',
        rampStart: '10',
        rampFactor: '2',
        rampEvery: '50',
        failureThreshold: '5',
        minSample: '20',
        onFailure: 'abort',
        countTimeouts: true,
        ackTimeout: '30s',
        maxAttempts: '3',
        retryBase: '5s',
        startAt: '2026-12-24T01:00',
        endBy: '2026-12-24T05:00',
        atEnd: 'finish',
        windows: 'Mon-Fri 01:00-04:00\n\nSat,Sun 22:00-02:00',
        windowZone: 'Europe/Berlin',
        downloadAhead: true,
        snapshot: true,
        supersede: true,
      }),
    );
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.input).toMatchObject({
      target: { kind: 'devices', deviceIds: ['cam-1', 'cam-2', 'cam-3'] },
      waves: [10, 50, 100],
      advance: 'manual',
      successThreshold: 0.95,
      soakMs: 600_000,
      maxInFlight: 20,
      maxPerMinute: 300,
      ramp: { startPerMinute: 10, factor: 2, everySuccesses: 50 },
      failureThreshold: 0.05,
      minSample: 20,
      onFailure: 'abort',
      countTimeouts: true,
      ackTimeoutMs: 30_000,
      maxAttempts: 3,
      retryBackoff: { baseMs: 5_000, maxMs: 60_000 },
      startAt: new Date('2026-12-24T01:00').getTime(),
      endBy: new Date('2026-12-24T05:00').getTime(),
      atEnd: 'finish',
      windows: [
        { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '01:00', end: '04:00' },
        { days: ['Sat', 'Sun'], start: '22:00', end: '02:00' },
      ],
      windowZone: 'Europe/Berlin',
      downloadAhead: true,
      snapshot: true,
      supersede: true,
    });
  });

  it('drops the failure settings without a threshold, as their fields are disabled then', () => {
    const read = readRolloutForm(form({ minSample: '50', onFailure: 'abort', countTimeouts: true }));
    expect(read.ok && read.input).toMatchObject({
      failureThreshold: null,
      minSample: 10,
      onFailure: 'pause',
    });
  });

  it.each([
    [{ soak: 'ten minutes' }, 'soak', /a duration/],
    [{ waves: '50,10,100' }, 'waves', /increase/],
    [{ waves: '10,,100' }, 'waves', /not a percentage/],
    [{ targetKind: 'selector', selector: 'site in (a' } as const, 'selector', /./],
    [{ targetKind: 'devices', devices: 'cam 1:x' } as const, 'devices', /./],
    [{ targetKind: 'devices', devices: ' ' } as const, 'devices', /./],
    [{ rampStart: '10' }, 'rampStart', /all three/],
    [{ rampStart: '10', rampFactor: '0.5', rampEvery: '5' }, 'rampFactor', /./],
    [{ windows: 'weekdays 01:00-04:00' }, 'windows', /'weekdays' is not a weekday/],
    [{ windows: 'Mon 01:00-04:00', windowZone: 'Mars/Olympus' }, 'windowZone', /IANA/],
    [{ maxInFlight: 'lots' }, 'maxInFlight', /not a number/],
    [{ maxInFlight: '0' }, 'maxInFlight', /./],
    [{ startAt: '2026-12-24T05:00', endBy: '2026-12-24T01:00' }, 'endBy', /after startAt/],
    [{ patchId: 'nope' }, 'patchId', /./],
  ])('%j: a problem in %s, nothing to create', (fields, field, message) => {
    const read = readRolloutForm(form(fields));
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.problems[field as keyof typeof read.problems]).toMatch(message);
  });
});
