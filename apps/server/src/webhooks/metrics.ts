import { Counter, Gauge, type Registry } from 'prom-client';

/** Outcomes of one webhook send (`camfleet_webhook_sends_total{outcome}`). */
export const SEND_OUTCOMES = ['delivered', 'http', 'redirect', 'timeout', 'network', 'refused'] as const;
export type SendOutcome = (typeof SEND_OUTCOMES)[number];

/** A scrape never waits longer than this for Redis (the gauges then keep their last values). */
const SOURCE_TIMEOUT_MS = 2_000;

/**
 * The webhook metrics of one pod, on its registry (apps/server/src/metrics.ts lists them):
 *   camfleet_webhook_sends_total{outcome}   counter  sends by this pod, by outcome (SEND_OUTCOMES)
 *   camfleet_webhook_given_up_total         counter  deliveries given up (most attempts or longest age)
 *   camfleet_webhook_dropped_total          counter  deliveries dropped from a full backlog
 *   camfleet_webhook_disabled_total         counter  endpoints this pod disabled after consecutive failures
 *   camfleet_webhook_backlog                gauge    deliveries waiting, all endpoints (read at scrape time)
 *   camfleet_webhook_endpoints_disabled     gauge    endpoints disabled now (read at scrape time)
 *   camfleet_webhook_sends_in_flight        gauge    sends under way on this pod (at most FLEET_WEBHOOK_CONCURRENCY)
 */
export class WebhookMetrics {
  readonly sends: Counter<'outcome'>;
  readonly givenUp: Counter;
  readonly dropped: Counter;
  readonly disabled: Counter;

  constructor(
    registry: Registry,
    source: () => Promise<{ backlog: number; disabled: number }>,
    inFlight: () => number = () => 0,
  ) {
    const registers = [registry];
    this.sends = new Counter({
      name: 'camfleet_webhook_sends_total',
      help: 'Webhook requests this pod sent, by outcome (delivered is a 2xx answer)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of SEND_OUTCOMES) this.sends.inc({ outcome }, 0);
    this.givenUp = new Counter({
      name: 'camfleet_webhook_given_up_total',
      help: 'Webhook deliveries this pod gave up after the most attempts or the longest age',
      registers,
    });
    this.dropped = new Counter({
      name: 'camfleet_webhook_dropped_total',
      help: 'Webhook deliveries dropped because their endpoint’s backlog was full (counted by the pod fanning out)',
      registers,
    });
    this.disabled = new Counter({
      name: 'camfleet_webhook_disabled_total',
      help: 'Webhook endpoints this pod disabled after consecutive failed attempts',
      registers,
    });
    new Gauge({
      name: 'camfleet_webhook_sends_in_flight',
      help: 'Webhook sends under way on this pod',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    // Both gauges from one read per scrape.
    let reading: Promise<{ backlog: number; disabled: number } | null> | null = null;
    const read = () => {
      reading ??= withTimeout(source()).finally(() => {
        reading = null;
      });
      return reading;
    };
    new Gauge({
      name: 'camfleet_webhook_backlog',
      help: 'Webhook deliveries waiting to be sent, over all endpoints',
      registers,
      async collect() {
        const summary = await read();
        if (summary) this.set(summary.backlog);
      },
    });
    new Gauge({
      name: 'camfleet_webhook_endpoints_disabled',
      help: 'Webhook endpoints disabled after consecutive failed attempts (until enabled)',
      registers,
      async collect() {
        const summary = await read();
        if (summary) this.set(summary.disabled);
      },
    });
  }
}

async function withTimeout<T>(promise: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), SOURCE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise.catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
