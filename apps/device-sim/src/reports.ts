import type { Offer, ReportInput, ReportResult } from '@camfleet/contracts';
import type { Connection } from './connection.js';
import { type DeviceContext, pause } from './context.js';
import type { CompletedDelivery } from './device.js';
import { classifyFailure, describeFailure } from './outcome.js';

export type ReportOutcome =
  | { kind: 'landed'; result: ReportResult }
  | { kind: 'rejected'; reason: string }
  | { kind: 'aborted' };

/** What reporting needs of the session. */
export interface ReportSession {
  /** The current registered connection, waiting for one; null once `signal` aborts. */
  ready(signal: AbortSignal): Promise<Connection | null>;
  /** The server refused the device's credentials: it stops for good. */
  reject(message: string): void;
}

/**
 * Progress and outcome reports (spec: "Offers and reports"), and the record of how each delivery
 * ended here. A report is sent until it lands, across disconnects and fail-overs; the server
 * refusing it (a stale attempt, a finished delivery) is final.
 */
export class Reports {
  readonly completed: CompletedDelivery[] = [];

  constructor(
    private readonly ctx: DeviceContext,
    private readonly session: ReportSession,
  ) {}

  /**
   * Sends a report until it lands, retrying through disconnects (on whatever session is current).
   * A domain error, or an answer saying the delivery ended regardless, is final: counted as rejected.
   */
  async send(input: ReportInput, signal: AbortSignal, offer: Offer): Promise<ReportOutcome> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.session.ready(signal);
      if (!connection) return { kind: 'aborted' };
      try {
        const result = await connection.client.device.report.mutate(input, { signal });
        if (!contradicts(input.status, result.state)) return { kind: 'landed', result };
        return this.rejected(input, offer, `delivery is ${result.state}`);
      } catch (error) {
        if (signal.aborted) return { kind: 'aborted' };
        const kind = classifyFailure(error);
        if (kind === 'credentials') {
          this.session.reject(describeFailure(error));
          return { kind: 'aborted' };
        }
        if (kind === 'final') return this.rejected(input, offer, describeFailure(error));
        if (!(await pause(this.ctx.backoff(attempt), signal))) return { kind: 'aborted' };
      }
    }
  }

  /** Records how the device's work on an attempt ended. */
  complete(offer: Offer, outcome: CompletedDelivery['outcome'], reason?: string): void {
    this.completed.push({
      deliveryId: offer.deliveryId,
      rolloutId: offer.rolloutId,
      attempt: offer.attempt,
      patchVersion: offer.patch.version,
      outcome,
      ...(reason === undefined ? {} : { reason }),
      at: Date.now(),
    });
  }

  private rejected(input: ReportInput, offer: Offer, reason: string): ReportOutcome {
    this.ctx.counters.reportsRejected++;
    this.complete(offer, 'rejected', reason);
    this.ctx.emit({
      type: 'report-rejected',
      deviceId: this.ctx.id,
      deliveryId: input.deliveryId,
      attempt: input.attempt,
      status: input.status,
      reason,
    });
    return { kind: 'rejected', reason };
  }
}

function isOver(state: ReportResult['state']): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'canceled';
}

/** Whether the server's answer to a report says the delivery ended without it. */
function contradicts(status: ReportInput['status'], state: ReportResult['state']): boolean {
  switch (status) {
    case 'downloading':
    case 'installing':
      return isOver(state);
    case 'installed':
      // Accepted: verifying (or already verified, when repeated).
      return state === 'failed' || state === 'canceled';
    default:
      // A final report landed; whatever the delivery does next (a retry, …) is the server's business.
      return false;
  }
}
