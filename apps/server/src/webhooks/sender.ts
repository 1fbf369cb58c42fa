import { AUDIT_MAX } from '../fleet/audit.js';
import type { FleetDeps } from '../fleet/deps.js';
import {
  type ClaimedDelivery,
  webhookClaim,
  webhookDisable,
  webhookDone,
  webhookRetry,
} from '../redis/scripts/index.js';
import type { WebhookMetrics } from './metrics.js';
import { type PostOutcome, postWebhook } from './post.js';
import { LOG_KEEP, sendLeaseMs, type WebhookSettings } from './settings.js';
import { webhookHeaders } from './signature.js';
import type { TargetPolicy } from './targets.js';

/** How long the loop pauses after Redis failed it (at least its poll interval). */
export const ERROR_PAUSE_MS = 1_000;

/**
 * A pod's webhook sends: it claims due deliveries (a lease each) up to its free places, at most
 * `concurrency` at once, POSTs them and records each outcome with one script. Nothing of a send
 * lives only here: a pod that dies mid-send leaves a claim whose lease runs out, and any pod sends
 * it again (the same event id). Sends happen in this loop only, never on a rollout's path.
 */
export class WebhookSender {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  /** Ends the loop's nap early: a send finished (a place is free) or the sender stops. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly deps: FleetDeps,
    private readonly settings: WebhookSettings,
    private readonly policy: TargetPolicy,
    private readonly metrics: WebhookMetrics,
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  /** Claims no more; waits for the sends under way (each bounded by the request timeout). */
  async close(): Promise<void> {
    this.stop.abort();
    this.wake?.();
    await this.running;
    await Promise.all(this.inFlight);
  }

  /** Sends under way on this pod. */
  get sending(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      const free = this.settings.concurrency - this.inFlight.size;
      let claimed = 0;
      let failed = false;
      if (free > 0) {
        this.deps.metrics.reconcileRuns.inc({ loop: 'webhook-send' });
        try {
          claimed = this.claim(free, await this.deps.scripts.run(webhookClaim, this.claimInput(free)));
        } catch (error) {
          this.deps.metrics.reconcileErrors.inc({ loop: 'webhook-send' });
          failed = true;
          if (!signal.aborted) this.deps.log.warn({ err: error }, 'webhook claim failed; retrying');
        }
      }
      // Nothing more was due: look again after a while (Redis failing: a while longer). Full: as soon
      // as a send ends.
      const idleMs = failed ? Math.max(this.settings.pollMs, ERROR_PAUSE_MS) : this.settings.pollMs;
      if (!signal.aborted) await this.nap(claimed < free ? idleMs : this.settings.timeoutMs);
    }
  }

  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private claimInput(limit: number) {
    return { limit, leaseMs: sendLeaseMs(this.settings), instance: this.deps.instance };
  }

  private claim(free: number, reply: { now: number; claimed: ClaimedDelivery[] }): number {
    for (const delivery of reply.claimed.slice(0, free)) {
      const send = this.send(delivery, reply.now).finally(() => {
        this.inFlight.delete(send);
        this.wake?.();
      });
      this.inFlight.add(send);
    }
    return reply.claimed.length;
  }

  private async send(delivery: ClaimedDelivery, nowMs: number): Promise<void> {
    const outcome = await postWebhook({
      url: delivery.url,
      body: delivery.body,
      headers: webhookHeaders({
        secret: delivery.secret,
        type: delivery.type,
        deliveryId: delivery.id,
        attempt: delivery.attempt,
        timestampSeconds: Math.floor(nowMs / 1000),
        body: delivery.body,
      }),
      timeoutMs: this.settings.timeoutMs,
      policy: this.policy,
    });
    this.metrics.sends.inc({ outcome: outcome.ok ? 'delivered' : outcome.kind });
    try {
      await this.record(delivery, outcome);
    } catch (error) {
      // The claim's lease runs out and a pod sends it again: at least once, never lost.
      this.deps.log.warn(
        { err: error, delivery: delivery.id },
        'webhook outcome not recorded; it is sent again',
      );
    }
  }

  private async record(delivery: ClaimedDelivery, outcome: PostOutcome): Promise<void> {
    const { scripts, log } = this.deps;
    const where = { delivery: delivery.id, attempt: delivery.attempt, status: outcome.status };
    if (outcome.ok) {
      const recorded = await scripts.run(webhookDone, {
        id: delivery.id,
        lease: delivery.lease,
        status: outcome.status,
        logKeep: LOG_KEEP,
      });
      log.debug({ ...where, recorded }, 'webhook delivered');
      return;
    }
    const retry = await scripts.run(webhookRetry, {
      id: delivery.id,
      lease: delivery.lease,
      status: outcome.status,
      error: outcome.error,
      policy: this.settings.retry,
      jitter: Math.random(),
      logKeep: LOG_KEEP,
    });
    if (retry.outcome === 'stale') return;
    if (retry.outcome === 'failed') {
      this.metrics.givenUp.inc();
      log.warn({ ...where, error: outcome.error }, 'webhook delivery given up');
    } else
      log.info({ ...where, error: outcome.error, nextAt: retry.nextAt }, 'webhook attempt failed; retrying');
    if (retry.failures >= this.settings.disableAfter) await this.disable(delivery.id.split('/')[0] ?? '');
  }

  private async disable(endpointId: string): Promise<void> {
    const reason = await this.deps.scripts.run(webhookDisable, {
      id: endpointId,
      failureLimit: this.settings.disableAfter,
      auditMax: AUDIT_MAX,
    });
    if (reason === null) return;
    this.metrics.disabled.inc();
    this.deps.log.warn({ webhookId: endpointId, reason }, 'webhook endpoint disabled');
  }
}
