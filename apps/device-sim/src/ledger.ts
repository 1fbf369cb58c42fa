import type { ReportInput } from '@camfleet/contracts';

/** How a device should treat an incoming offer for (deliveryId, attempt). */
export type OfferDecision =
  /** New work (or a retry: a higher attempt of a known delivery). */
  | { kind: 'install'; supersedes: number | null; alreadySucceeded: boolean }
  /** The same attempt is being worked on right now: nothing to do. */
  | { kind: 'in-progress' }
  /** The same attempt already finished here: send its final report again. */
  | { kind: 'resend'; report: ReportInput }
  /** An attempt older than one already seen, or one abandoned after a rejection: ignore. */
  | { kind: 'ignore' };

interface AttemptState {
  phase: 'working' | 'done';
  /** Once done: the final report to repeat if the same attempt is offered again (null: abandoned). */
  report: ReportInput | null;
  /** The server accepted this attempt's `installed` or `succeeded` report. */
  accepted: boolean;
  /** This device came back from the restart on its old firmware: the attempt did not stick. */
  rolledBack: boolean;
}

interface DeliveryEntry {
  highestAttempt: number;
  attempts: Map<number, AttemptState>;
}

/**
 * Per-device bookkeeping that keeps installs idempotent: which (deliveryId, attempt) pairs are
 * in progress or done, what the final report of each done one was, and which ones the server
 * accepted as installed (and whether they then rolled back here). Pure; no I/O.
 */
export class DeliveryLedger {
  private readonly deliveries = new Map<string, DeliveryEntry>();

  decide(deliveryId: string, attempt: number): OfferDecision {
    const entry = this.deliveries.get(deliveryId);
    if (!entry) return { kind: 'install', supersedes: null, alreadySucceeded: false };
    const state = entry.attempts.get(attempt);
    if (state?.phase === 'working') return { kind: 'in-progress' };
    if (state?.phase === 'done')
      return state.report ? { kind: 'resend', report: state.report } : { kind: 'ignore' };
    if (attempt < entry.highestAttempt) return { kind: 'ignore' };
    const working = [...entry.attempts].find(([, s]) => s.phase === 'working');
    return {
      kind: 'install',
      supersedes: working ? working[0] : null,
      alreadySucceeded: this.hasSucceeded(deliveryId),
    };
  }

  /** Marks an attempt as being worked on. */
  start(deliveryId: string, attempt: number): void {
    let entry = this.deliveries.get(deliveryId);
    if (!entry) {
      entry = { highestAttempt: 0, attempts: new Map() };
      this.deliveries.set(deliveryId, entry);
    }
    entry.highestAttempt = Math.max(entry.highestAttempt, attempt);
    entry.attempts.set(attempt, { phase: 'working', report: null, accepted: false, rolledBack: false });
  }

  /** Marks an attempt finished; `report` is the final report to repeat on a re-offer (null: abandoned). */
  finish(deliveryId: string, attempt: number, report: ReportInput | null): void {
    const state = this.deliveries.get(deliveryId)?.attempts.get(attempt);
    if (!state) return;
    state.phase = 'done';
    state.report = report;
  }

  /** The server accepted an `installed` or `succeeded` report for this attempt. */
  markAccepted(deliveryId: string, attempt: number): void {
    const state = this.deliveries.get(deliveryId)?.attempts.get(attempt);
    if (state) state.accepted = true;
  }

  /** The restart after this attempt came back on the old firmware. */
  markRolledBack(deliveryId: string, attempt: number): void {
    const state = this.deliveries.get(deliveryId)?.attempts.get(attempt);
    if (state) state.rolledBack = true;
  }

  isWorking(deliveryId: string, attempt: number): boolean {
    return this.deliveries.get(deliveryId)?.attempts.get(attempt)?.phase === 'working';
  }

  /** Whether the server accepted this exact attempt as installed, and it stuck (no rollback). */
  wasInstalled(deliveryId: string, attempt: number): boolean {
    const state = this.deliveries.get(deliveryId)?.attempts.get(attempt);
    return state?.accepted === true && !state.rolledBack;
  }

  /**
   * Whether installing this delivery again would be a repeat: the server accepted an `installed`
   * or `succeeded` report for some attempt of it, and that attempt was not rolled back here. (A
   * retry after a rollback is legitimate: the patch never ran.)
   */
  hasSucceeded(deliveryId: string): boolean {
    const entry = this.deliveries.get(deliveryId);
    if (!entry) return false;
    return [...entry.attempts.values()].some((s) => s.accepted && !s.rolledBack);
  }

  /** Attempts currently being worked on. */
  get working(): number {
    let count = 0;
    for (const entry of this.deliveries.values()) {
      for (const state of entry.attempts.values()) if (state.phase === 'working') count++;
    }
    return count;
  }
}
