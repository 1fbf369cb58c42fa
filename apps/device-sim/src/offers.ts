import type { Offer, ReportInput, DeviceEvent as ServerEvent } from '@camfleet/contracts';
import { type DeviceContext, refOf } from './context.js';
import type { CancelDecision } from './device.js';
import type { DeliveryLedger } from './ledger.js';
import type { Reports } from './reports.js';

/**
 * Where an attempt is. Only `downloading` and `installing` (applying included) can be canceled;
 * later the outcome is already being reported, or the device is restarting into it.
 */
export type WorkPhase = 'downloading' | 'installing' | 'hung' | 'reporting' | 'canceling' | 'rebooting';

/** One attempt being worked on; aborted when superseded by a newer attempt or the device stops. */
export interface Work {
  offer: Offer;
  controller: AbortController;
  /** Aborted when the device honours a cancel request: the install stops and reports `canceled`. */
  cancel: AbortController;
  phase: WorkPhase;
  /** What this device decided on a cancel request for the attempt, once it got one. */
  cancelDecision: CancelDecision | null;
  /**
   * Called once, as work on the attempt ends: `finalReport` is the one that landed, to repeat if the
   * same attempt is offered again (null: none, the attempt was abandoned).
   */
  end(finalReport: ReportInput | null): void;
}

type CancelRequest = Extract<ServerEvent, { type: 'cancel' }>;

/**
 * What the device does with the offers and cancels the server pushes (spec: "Offers and reports"):
 * installs each attempt once (the ledger tells a new attempt from a repeat, which only gets its
 * final report again), drops an attempt a newer one supersedes, and honours or refuses cancels.
 */
export class Offers {
  private readonly works = new Map<string, Work>();
  private readonly resending = new Set<string>();

  /** `install`: works on one attempt, and calls its `end` as it stops. */
  constructor(
    private readonly ctx: DeviceContext,
    private readonly ledger: DeliveryLedger,
    private readonly reports: Reports,
    private readonly install: (work: Work) => Promise<void>,
  ) {}

  /** Attempts being installed plus final reports being re-sent. */
  get busy(): number {
    return this.works.size + this.resending.size;
  }

  handle(event: ServerEvent): void {
    if (event.type === 'offer') this.handleOffer(event.offer);
    else this.handleCancel(event);
  }

  private handleOffer(offer: Offer): void {
    this.ctx.counters.offersReceived++;
    const decision = this.ledger.decide(offer.deliveryId, offer.attempt);
    this.ctx.emit({ ...refOf(this.ctx.id, offer), type: 'offer', decision: decision.kind });
    switch (decision.kind) {
      case 'install': {
        if (decision.supersedes !== null) {
          this.works.get(workKey(offer.deliveryId, decision.supersedes))?.controller.abort();
        }
        if (decision.alreadySucceeded) this.ctx.counters.installsRepeated++;
        void this.start(offer);
        return;
      }
      case 'resend':
        this.ctx.counters.duplicateOffers++;
        void this.resend(offer, decision.report);
        return;
      case 'in-progress':
      case 'ignore':
        this.ctx.counters.duplicateOffers++;
        return;
    }
  }

  /**
   * A request to stop an attempt. While it downloads or installs, the device honours it (reports
   * `canceled`) or, with --refuse-cancel-rate, refuses and carries on. Anything else is ignored:
   * an unknown or finished attempt, a hung one, one already reporting its outcome or restarting
   * into it, or a repeat of a request already decided.
   */
  private handleCancel(request: CancelRequest): void {
    const work = this.works.get(workKey(request.deliveryId, request.attempt));
    const cancellable =
      work !== undefined &&
      work.cancelDecision === null &&
      (work.phase === 'downloading' || work.phase === 'installing');
    let decision: CancelDecision = 'ignored';
    if (!cancellable) {
      this.ctx.counters.cancelsIgnored++;
    } else if (this.ctx.random() < this.ctx.faults.refuseCancelRate) {
      decision = 'refused';
      this.ctx.counters.cancelsRefused++;
    } else {
      decision = 'accepted';
      this.ctx.counters.cancelsAccepted++;
    }
    const { deliveryId, attempt, reason } = request;
    this.ctx.emit({ type: 'cancel', deviceId: this.ctx.id, deliveryId, attempt, decision, reason });
    if (!cancellable) return;
    work.cancelDecision = decision;
    if (decision === 'accepted') work.cancel.abort();
  }

  /** Works on a new attempt; the ledger has it in progress until it ends, then done with its final report. */
  private start(offer: Offer): Promise<void> {
    const key = workKey(offer.deliveryId, offer.attempt);
    const work: Work = {
      offer,
      controller: new AbortController(),
      cancel: new AbortController(),
      phase: 'downloading',
      cancelDecision: null,
      end: (finalReport) => {
        this.ledger.finish(offer.deliveryId, offer.attempt, finalReport);
        this.works.delete(key);
      },
    };
    this.works.set(key, work);
    this.ledger.start(offer.deliveryId, offer.attempt);
    return this.install(work);
  }

  /** The same attempt was offered again after it finished here: repeat its final report. */
  private async resend(offer: Offer, report: ReportInput): Promise<void> {
    const key = workKey(offer.deliveryId, offer.attempt);
    if (this.resending.has(key)) return;
    this.resending.add(key);
    try {
      const outcome = await this.reports.send(report, this.ctx.lifetime, offer);
      if (outcome.kind === 'landed' && (report.status === 'installed' || report.status === 'succeeded')) {
        this.ledger.markAccepted(offer.deliveryId, offer.attempt);
      }
    } finally {
      this.resending.delete(key);
    }
  }
}

function workKey(deliveryId: string, attempt: number): string {
  return `${deliveryId}#${attempt}`;
}
