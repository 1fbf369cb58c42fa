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

type AttemptState =
  | { phase: 'working' }
  /** `report` is the final report to repeat if the same attempt is offered again (null: abandoned). */
  | { phase: 'done'; report: ReportInput | null; installed: boolean };

interface DeliveryEntry {
  highestAttempt: number;
  attempts: Map<number, AttemptState>;
  /** Some attempt's `succeeded` report was accepted by the server. */
  succeededLanded: boolean;
}

/**
 * Per-device bookkeeping that keeps installs idempotent: which (deliveryId, attempt) pairs are
 * in progress or done, and what the final report of each done one was. Pure; no I/O.
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
      entry = { highestAttempt: 0, attempts: new Map(), succeededLanded: false };
      this.deliveries.set(deliveryId, entry);
    }
    entry.highestAttempt = Math.max(entry.highestAttempt, attempt);
    entry.attempts.set(attempt, { phase: 'working' });
  }

  /**
   * Marks an attempt finished. `report` is the final report to repeat on a re-offer (null when
   * the attempt was abandoned); `installed` says the patch was applied successfully here.
   */
  finish(deliveryId: string, attempt: number, report: ReportInput | null, installed: boolean): void {
    const entry = this.deliveries.get(deliveryId);
    if (!entry) return;
    entry.attempts.set(attempt, { phase: 'done', report, installed });
  }

  /** The server accepted a `succeeded` report for this delivery. */
  markSucceededLanded(deliveryId: string): void {
    const entry = this.deliveries.get(deliveryId);
    if (entry) entry.succeededLanded = true;
  }

  isWorking(deliveryId: string, attempt: number): boolean {
    return this.deliveries.get(deliveryId)?.attempts.get(attempt)?.phase === 'working';
  }

  /** Whether this exact attempt was applied successfully on this device. */
  wasInstalled(deliveryId: string, attempt: number): boolean {
    const state = this.deliveries.get(deliveryId)?.attempts.get(attempt);
    return state?.phase === 'done' && state.installed;
  }

  /**
   * Whether installing this delivery again would be a repeat: the server accepted a success for
   * it under any attempt, or some attempt was applied and its success report never got refused.
   */
  hasSucceeded(deliveryId: string): boolean {
    const entry = this.deliveries.get(deliveryId);
    if (!entry) return false;
    if (entry.succeededLanded) return true;
    return [...entry.attempts.values()].some(
      (s) => s.phase === 'done' && s.installed && s.report?.status === 'succeeded',
    );
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
