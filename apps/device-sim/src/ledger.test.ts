import type { ReportInput } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from './ledger.js';

const succeeded = (attempt: number): ReportInput => ({
  deliveryId: 'd1',
  attempt,
  status: 'succeeded',
  firmwareVersion: '2.0.0',
});
const installed = (attempt: number): ReportInput => ({ deliveryId: 'd1', attempt, status: 'installed' });
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
    ledger.markAccepted('d1', 1);
    ledger.finish('d1', 1, installed(1));
    expect(ledger.decide('d1', 1)).toEqual({ kind: 'resend', report: installed(1) });
    expect(ledger.wasInstalled('d1', 1)).toBe(true);
    expect(ledger.working).toBe(0);
  });

  it('installs a higher attempt as a retry, superseding one still in progress', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'install', supersedes: 1, alreadySucceeded: false });
    ledger.finish('d1', 1, failed(1));
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'install', supersedes: null, alreadySucceeded: false });
  });

  it('ignores attempts older than one already seen, and abandoned attempts', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 3);
    ledger.finish('d1', 3, null);
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'ignore' });
    expect(ledger.decide('d1', 3)).toEqual({ kind: 'ignore' });
  });

  it.each([
    ['installed', installed(1)],
    ['succeeded', succeeded(1)],
  ])('flags a new attempt of a delivery accepted as %s here as a repeat', (_, report) => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.markAccepted('d1', 1);
    ledger.finish('d1', 1, report);
    expect(ledger.hasSucceeded('d1')).toBe(true);
    expect(ledger.decide('d1', 2)).toMatchObject({ kind: 'install', alreadySucceeded: true });
  });

  it('counts the acceptance while the attempt is still working (restarting)', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.markAccepted('d1', 1);
    expect(ledger.decide('d1', 2)).toEqual({ kind: 'install', supersedes: 1, alreadySucceeded: true });
  });

  it('does not flag a retry after a rollback on this device', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.markAccepted('d1', 1);
    ledger.markRolledBack('d1', 1);
    ledger.finish('d1', 1, installed(1));
    expect(ledger.hasSucceeded('d1')).toBe(false);
    expect(ledger.wasInstalled('d1', 1)).toBe(false);
    expect(ledger.decide('d1', 2)).toMatchObject({ kind: 'install', alreadySucceeded: false });
    // The retry sticks: now a third attempt would be a repeat.
    ledger.start('d1', 2);
    ledger.markAccepted('d1', 2);
    ledger.finish('d1', 2, installed(2));
    expect(ledger.decide('d1', 3)).toMatchObject({ kind: 'install', alreadySucceeded: true });
  });

  it('does not flag a retry after an install the server refused (stale attempt) or a cancel', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.finish('d1', 1, null);
    ledger.start('d1', 2);
    ledger.finish('d1', 2, { deliveryId: 'd1', attempt: 2, status: 'canceled' });
    expect(ledger.hasSucceeded('d1')).toBe(false);
    expect(ledger.decide('d1', 3)).toMatchObject({ kind: 'install', alreadySucceeded: false });
  });

  it('remembers a success the server accepted under any attempt, even if a later report was refused', () => {
    const ledger = new DeliveryLedger();
    ledger.start('d1', 1);
    ledger.markAccepted('d1', 1);
    ledger.finish('d1', 1, null);
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
