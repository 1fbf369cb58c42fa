import { CreateRolloutInput, DELIVERY_STATES, type StateCounts } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { decide, type GateFacts, gateOf } from './gates.js';
import { rolloutFrom, rolloutSettingsFields } from './records.js';

function counts(partial: Partial<StateCounts>): StateCounts {
  return { ...(Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as StateCounts), ...partial };
}

function facts(settings: Record<string, unknown>, over: Partial<GateFacts> = {}): GateFacts {
  const input = CreateRolloutInput.parse({ patchId: 'pat_1', ...settings });
  const rollout = rolloutFrom({ id: 'ro_1', seq: '1', patchId: 'pat_1', ...rolloutSettingsFields(input) });
  return {
    rollout,
    status: 'active',
    reason: null,
    statusBy: null,
    openWave: 0,
    waveMetAt: 0,
    counts: counts({}),
    waveCounts: [],
    waveWindowed: [0, 0, 0],
    timeouts: 0,
    attaching: false,
    now: 1_000_000,
    ...over,
  };
}

describe('failure threshold', () => {
  it('waits for the minimum sample, then trips above the threshold', () => {
    const settings = { failureThreshold: 0.1, minSample: 10 };
    expect(decide(facts(settings, { counts: counts({ failed: 3, succeeded: 5 }) })).action).not.toBe('trip');
    const tripped = decide(facts(settings, { counts: counts({ failed: 2, succeeded: 8 }) }));
    expect(tripped).toMatchObject({ action: 'trip' });
    expect(tripped.action === 'trip' && tripped.reason).toMatch(/2 of 10 completed failed \(20% > 10%\)/);
    expect(decide(facts(settings, { counts: counts({ failed: 1, succeeded: 9 }) })).action).not.toBe('trip');
  });

  it('counts timed-out attempts only when asked', () => {
    const over = { counts: counts({ succeeded: 10 }), timeouts: 5 };
    expect(decide(facts({ failureThreshold: 0.2 }, over)).action).not.toBe('trip');
    expect(decide(facts({ failureThreshold: 0.2, countTimeouts: true }, over)).action).toBe('trip');
  });
});

describe('waves', () => {
  const waves = { waves: [10, 50, 100], successThreshold: 0.9 };
  it('opens the next wave when the open one succeeded enough, at once without soak', () => {
    expect(decide(facts(waves, { waveCounts: [counts({ succeeded: 8, installing: 2 })] }))).toEqual({
      action: 'wait',
      until: null,
    });
    expect(decide(facts(waves, { waveCounts: [counts({ succeeded: 9, failed: 1 })] }))).toEqual({
      action: 'open',
    });
  });

  it('soaks: first marks the time the wave met its threshold, then opens after the soak', () => {
    const soaked = { ...waves, soakMs: 60_000 };
    const met = { waveCounts: [counts({ succeeded: 10 })] };
    expect(decide(facts(soaked, met))).toEqual({ action: 'met' });
    expect(decide(facts(soaked, { ...met, waveMetAt: 990_000 }))).toEqual({
      action: 'wait',
      until: 1_050_000,
    });
    expect(decide(facts(soaked, { ...met, waveMetAt: 900_000 }))).toEqual({ action: 'open' });
    expect(gateOf(facts(soaked, { ...met, waveMetAt: 990_000 }))).toEqual({
      kind: 'soak',
      wave: 0,
      until: 1_050_000,
    });
  });

  it('leaves manual rollouts to the operator', () => {
    const manual = facts({ ...waves, advance: 'manual' }, { waveCounts: [counts({ succeeded: 10 })] });
    expect(decide(manual)).toEqual({ action: 'wait', until: null });
    expect(gateOf(manual)).toEqual({ kind: 'operator', wave: 1 });
  });

  it('treats an empty wave as met, and shows what a wave still needs', () => {
    expect(decide(facts(waves, { waveCounts: [] }))).toEqual({ action: 'open' });
    expect(gateOf(facts(waves, { waveCounts: [counts({ succeeded: 1, queued: 3 })] }))).toEqual({
      kind: 'success',
      wave: 0,
      needed: 0.9,
      reached: 0.25,
    });
  });

  it('does nothing for a paused rollout but say why', () => {
    const paused = facts(waves, {
      status: 'paused',
      reason: 'checking logs',
      waveCounts: [counts({ succeeded: 10 })],
    });
    expect(decide(paused)).toEqual({ action: 'wait', until: null });
    expect(gateOf(paused)).toEqual({ kind: 'paused', reason: 'checking logs' });
  });
});

describe('schedules', () => {
  const waiting = { status: 'paused', statusBy: 'schedule' } as const;

  it('waits for its start, shown as a scheduled gate, and starts once the start came', () => {
    const settings = { startAt: 1_060_000 };
    expect(decide(facts(settings, waiting))).toEqual({ action: 'wait', until: 1_060_000 });
    expect(gateOf(facts(settings, waiting))).toEqual({ kind: 'scheduled', startsAt: 1_060_000 });
    expect(decide(facts(settings, { ...waiting, now: 1_060_000 }))).toEqual({ action: 'start' });
  });

  it('leaves a scheduled rollout an operator paused or resumed alone until its end', () => {
    const settings = { startAt: 1_000_000, endBy: 2_000_000 };
    const paused = { status: 'paused', statusBy: 'alice', reason: 'hold on' } as const;
    expect(decide(facts(settings, paused))).toEqual({ action: 'wait', until: 2_000_000 });
    expect(gateOf(facts(settings, paused))).toEqual({ kind: 'paused', reason: 'hold on' });
    expect(decide(facts(settings, { ...paused, now: 2_000_000 }))).toEqual({ action: 'end' });
  });

  it('ends at endBy whatever else holds it, and looks again at the nearest of soak and end', () => {
    const settings = { waves: [10, 100], soakMs: 60_000, endBy: 1_030_000 };
    const met = { waveCounts: [counts({ succeeded: 10 })], waveMetAt: 990_000 };
    expect(decide(facts(settings, met))).toEqual({ action: 'wait', until: 1_030_000 });
    expect(decide(facts(settings, { ...met, now: 1_030_000 }))).toEqual({ action: 'end' });
  });
});

describe('waves with maintenance windows', () => {
  const waves = { waves: [50, 100], successThreshold: 0.9 };
  it('judges a wave on the devices that could run: those waiting for their window are left out', () => {
    const over = { waveCounts: [counts({ succeeded: 5, queued: 5 })], waveWindowed: [5, 0] };
    expect(decide(facts(waves, over))).toEqual({ action: 'open' });
    // The same wave with the queued devices not waiting for a window: 50% succeeded.
    expect(decide(facts(waves, { ...over, waveWindowed: [0, 0] }))).toEqual({ action: 'wait', until: null });
  });

  it('does not open the next wave while every device of the open one waits for its window', () => {
    const over = { waveCounts: [counts({ queued: 5 })], waveWindowed: [5, 0] };
    expect(decide(facts(waves, over))).toEqual({ action: 'wait', until: null });
    expect(gateOf(facts(waves, over))).toMatchObject({ kind: 'success', reached: 0 });
  });
});
