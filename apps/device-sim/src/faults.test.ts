import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULTS, faultProblem, nextBlipMs, planInstall } from './faults.js';

const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('faults', () => {
  it('plans a plain install with ±20% jitter', () => {
    // Draws, in order: apply jitter, download jitter, fail, crash, hang, rollback.
    const plan = planInstall(
      { ...DEFAULT_FAULTS, downloadMs: 100, applyMs: 500 },
      false,
      sequence(0, 1, 0.9, 0.9, 0.9, 0.9),
    );
    expect(plan).toEqual({
      downloadMs: 120,
      applyMs: 400,
      fails: false,
      crashAtMs: null,
      hangs: false,
      rollsBack: false,
      downloadCuts: [],
    });
  });

  it('cuts downloads by their rate: once, then again with even odds, at most three times', () => {
    const faults = { ...DEFAULT_FAULTS, dropDownloadRate: 0.5 };
    // apply, download, fail, crash, hang, rollback, drop, cut, more?, cut, more?, cut
    const once = planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.25, 0.7, 0.9));
    expect(once.downloadCuts).toEqual([0.7]);
    const never = planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.75));
    expect(never.downloadCuts).toEqual([]);
    const twice = planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.1, 0.8, 0.2, 0.3, 0.9));
    expect(twice.downloadCuts).toEqual([0.3, 0.8]);
    const many = planInstall({ ...DEFAULT_FAULTS, dropDownloadRate: 1 }, false, () => 0.1);
    expect(many.downloadCuts).toEqual([0.1, 0.1, 0.1]);
    expect(planInstall(DEFAULT_FAULTS, false, () => 0).downloadCuts).toEqual([]);
    // Off: no draw taken, so a replayed sequence of draws keeps its meaning.
    let draws = 0;
    planInstall(DEFAULT_FAULTS, false, () => {
      draws++;
      return 0.5;
    });
    expect(draws).toBe(6);
  });

  it('fails and crashes by their rates, and slows slow devices', () => {
    const faults = { ...DEFAULT_FAULTS, applyMs: 1000, failRate: 0.5, crashRate: 0.5, slowMs: 2000 };
    const plan = planInstall(faults, true, () => 0.25);
    expect(plan.fails).toBe(true);
    expect(plan.applyMs).toBe(900 + 2000);
    expect(plan.downloadMs).toBe(90 + 2000);
    expect(plan.crashAtMs).toBe(Math.floor(0.25 * 2900));
  });

  it('hangs by its rate, and a hung attempt does not crash', () => {
    const faults = { ...DEFAULT_FAULTS, hangRate: 0.5, crashRate: 1 };
    // apply, download, fail, crash, crash point, hang
    expect(planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0, 0.5, 0.25))).toMatchObject({
      hangs: true,
      crashAtMs: null,
    });
    expect(planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0, 0.5, 0.75))).toMatchObject({
      hangs: false,
      crashAtMs: 250,
    });
    expect(planInstall(DEFAULT_FAULTS, false, () => 0).hangs).toBe(false);
    expect(planInstall({ ...DEFAULT_FAULTS, hangRate: 1 }, false, () => 0.999).hangs).toBe(true);
  });

  it('rolls back by its rate, only an install that applied, and only with restarts', () => {
    const faults = { ...DEFAULT_FAULTS, rollbackRate: 0.5, failRate: 0.5, hangRate: 0.5 };
    // apply, download, fail, crash, hang, rollback
    expect(planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0.9, 0.9, 0.25)).rollsBack).toBe(true);
    expect(planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0.9, 0.9, 0.75)).rollsBack).toBe(false);
    expect(planInstall(faults, false, sequence(0.5, 0.5, 0.1, 0.9, 0.9, 0.25)).rollsBack).toBe(false);
    expect(planInstall(faults, false, sequence(0.5, 0.5, 0.9, 0.9, 0.1, 0.25)).rollsBack).toBe(false);
    expect(planInstall({ ...faults, reboot: false }, false, () => 0.75).rollsBack).toBe(false);
    expect(
      planInstall({ ...DEFAULT_FAULTS, reboot: false, rollbackRate: 1 }, false, () => 0.9).rollsBack,
    ).toBe(false);
    expect(planInstall(DEFAULT_FAULTS, false, () => 0).rollsBack).toBe(false);
  });

  it('schedules blips only when enabled', () => {
    expect(nextBlipMs(DEFAULT_FAULTS, Math.random)).toBeNull();
    const ms = nextBlipMs({ ...DEFAULT_FAULTS, disconnectRate: 2 }, () => 1 - Math.exp(-1));
    expect(ms).toBe(500);
  });

  it('validates rates', () => {
    expect(faultProblem(DEFAULT_FAULTS)).toBeNull();
    expect(faultProblem({ ...DEFAULT_FAULTS, failRate: 2 })).toMatch(/failRate/);
    expect(faultProblem({ ...DEFAULT_FAULTS, applyMs: -1 })).toMatch(/applyMs/);
    expect(faultProblem({ ...DEFAULT_FAULTS, crashRate: Number.NaN })).toMatch(/crashRate/);
    expect(faultProblem({ ...DEFAULT_FAULTS, hangRate: 1.5 })).toMatch(/hangRate/);
    expect(faultProblem({ ...DEFAULT_FAULTS, rollbackRate: -0.1 })).toMatch(/rollbackRate/);
    expect(faultProblem({ ...DEFAULT_FAULTS, refuseCancelRate: 2 })).toMatch(/refuseCancelRate/);
    expect(faultProblem({ ...DEFAULT_FAULTS, dropDownloadRate: 1.5 })).toMatch(/dropDownloadRate/);
    expect(faultProblem({ ...DEFAULT_FAULTS, rebootMs: -5 })).toMatch(/rebootMs/);
    expect(faultProblem({ ...DEFAULT_FAULTS, reboot: false, rollbackRate: 0.1 })).toMatch(/needs reboot/);
    expect(faultProblem({ ...DEFAULT_FAULTS, reboot: false })).toBeNull();
  });
});
