import type { FleetDeps } from '../fleet/deps.js';
import { sleep } from '../fleet/live-views.js';
import type { WebhookEndpoints } from './endpoints.js';
import { WebhookMetrics } from './metrics.js';
import { WebhookPump } from './pump.js';
import { ERROR_PAUSE_MS, WebhookSender } from './sender.js';

/**
 * A pod's webhook work, beside its other loops: the pump (while this pod holds its lease) and the
 * sender. Every pod runs both; none owns an endpoint.
 */
export class WebhookLoops {
  readonly metrics: WebhookMetrics;
  readonly sender: WebhookSender;
  private readonly pump: WebhookPump;
  private readonly stop = new AbortController();
  private pumping: Promise<void> | null = null;
  private readonly pollMs: number;

  constructor(
    private readonly deps: FleetDeps,
    endpoints: WebhookEndpoints,
    /** How long the pump's lease lasts: a dead pump is replaced within it (the pods' presence lease). */
    leaseMs: number,
  ) {
    this.metrics = new WebhookMetrics(
      deps.metrics.registry,
      () => endpoints.summary(),
      () => this.sender.sending,
    );
    this.pump = new WebhookPump(deps, endpoints.settings, leaseMs, this.metrics);
    this.sender = new WebhookSender(deps, endpoints.settings, endpoints.policy, this.metrics);
    this.pollMs = endpoints.settings.pollMs;
  }

  start(): void {
    this.pumping ??= this.runPump();
    this.sender.start();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all([this.pumping, this.sender.close()]);
  }

  private async runPump(): Promise<void> {
    const { metrics, log } = this.deps;
    while (!this.stop.signal.aborted) {
      let more = false;
      let pauseMs = this.pollMs;
      metrics.reconcileRuns.inc({ loop: 'webhook-pump' });
      try {
        more = await this.pump.pass();
      } catch (error) {
        metrics.reconcileErrors.inc({ loop: 'webhook-pump' });
        pauseMs = Math.max(this.pollMs, ERROR_PAUSE_MS);
        if (!this.stop.signal.aborted) log.warn({ err: error }, 'webhook pump failed; retrying');
      }
      if (!more) await sleep(pauseMs, this.stop.signal);
    }
  }
}
