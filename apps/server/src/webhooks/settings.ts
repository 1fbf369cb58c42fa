import type { RetryPolicy } from '../redis/scripts/webhooks.js';

/** How a pod sends webhooks (FLEET_WEBHOOK_* in the environment; docs/webhooks.md lists them). */
export interface WebhookSettings {
  /** Send to loopback, private, link-local and unique-local addresses too (tests, labs). */
  allowPrivate: boolean;
  /** Addresses allowed even though they are not public, as CIDRs (`10.1.0.0/16`, `fd00::/8`). */
  allowCidrs: readonly string[];
  /** One request's budget: DNS, connect, send, and the answer's status line. */
  timeoutMs: number;
  /** Sends one pod runs at once. */
  concurrency: number;
  /** Deliveries one endpoint may have waiting; past it the oldest are dropped (and counted). */
  maxBacklog: number;
  retry: RetryPolicy;
  /** Consecutive failed attempts that disable an endpoint. */
  disableAfter: number;
  /** How often a pod looks for due deliveries and new events when idle. */
  pollMs: number;
}

export const WEBHOOK_DEFAULTS: WebhookSettings = {
  allowPrivate: false,
  allowCidrs: [],
  timeoutMs: 10_000,
  concurrency: 16,
  maxBacklog: 1_000,
  retry: { baseMs: 2_000, maxMs: 600_000, maxAttempts: 20, maxAgeMs: 86_400_000 },
  disableAfter: 50,
  pollMs: 250,
};

/** Endpoints a fleet may have: each event is matched against all of them in one script. */
export const MAX_ENDPOINTS = 100;
/** Finished deliveries each endpoint's log keeps (newest). */
export const LOG_KEEP = 500;

/** How long a claimed send may take before another pod may take it over: its timeout and a margin. */
export const sendLeaseMs = (settings: WebhookSettings): number => settings.timeoutMs + 2_000;
