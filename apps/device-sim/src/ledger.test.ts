import type { ReportInput } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from './ledger.js';

const succeeded = (attempt: number): ReportInput => ({ deliveryId: 'd1', attempt, status: 'succeeded' });
const failed = (attempt: number): ReportInput => ({
  deliveryId: 'd1',
  attempt,
  status: 'failed',
  error: 'x',
});

describe('DeliveryLedger', () => {
  it('installs unknown deliveries', () => {
    expect(new DeliveryLedger().decide('d1', 1)).toEqual({
      kind: 'install',
      supersedes: null,
      alreadySucceeded: false,
    });
  });

  it('does not install an attempt that is in progress', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    expect(ledger.decide('d1', 1)).toEqual({ kind: 'in-progress' });
    expect(ledger.working).toBe(1);
  });

  it('re-sends the final report of a finished attempt instead of installing it again', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.finish('d1', 1, succeeded(1), true);
    expect(ledger.decide('d1', 1)).toEqual({ kind: 'resend', report: succeeded(1) });
    expect(ledger.wasInstalled('d1', 1)).toBe(true);
    expect(ledger.working).toBe(0);
  });

  it('installs a higher attempt as a retry, superseding one still in progress', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'install', supersedes: 1, alreadySucceeded: false });
    ledger.finish('d1', 1, failed(1), false);
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'install', supersedes: null, alreadySucceeded: false });
  });

  it('ignores attempts older than one already seen, and abandoned attempts', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 3);
    ledger.finish('d1', 3, null, false);
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'ignore' });
    expect(ledger.decide('d1', 3)).toEqual({ kind: 'ignore' });
  });

  it('flags a new attempt of a delivery already succeeded here as a repeat', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.finish('d1', 1, succeeded(1), true);
    expect(ledger.hasSucceeded('d1')).toBe(true);
    expect(ledger.decide('d1', 2)).toMatchObject({ kind: 'install', alreadySucceeded: true });
  });

  it('does not flag a retry after a success the server refused (stale attempt)', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.finish('d1', 1, null, true);
    expect(ledger.hasSucceeded('d1')).toBe(false);
    expect(ledger.decide('d1', 2)).toMatchObject({ kind: 'install', alreadySucceeded: false });
  });

  it('remembers a success the server accepted under any attempt', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.markSucceededLanded('d1');
    ledger.finish('d1', 1, null, true);
    expect(ledger.decide('d1', 4)).toMatchObject({ kind: 'install', alreadySucceeded: true });
  });

  it('keeps deliveries apart', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    expect(ledger.decide('d2', 1)).toMatchObject({ kind: 'install' });
    expect(ledger.isWorking('d1', 1)).toBe(true);
    expect(ledger.isWorking('d2', 1)).toBe(false);
  });
});
