import { z } from 'zod';
import { DeliveryState, safeText, Timestamp } from '../schemas.js';
import { FleetEvent } from './events.schema.js';

/*
 * Webhooks: the fleet's events POSTed to operators' endpoints (docs/webhooks.md). An endpoint
 * subscribes to event types by pattern; every matching event is sent at least once, signed with
 * the endpoint's secret, retried with backoff, and logged per endpoint.
 */

/** The rollout event types, as the event schema defines them (whatever is added there comes here). */
function rolloutEventTypes(): readonly string[] {
  for (const option of FleetEvent.options) {
    if ('type' in option.shape) return option.shape.type.options;
  }
  return [];
}

/**
 * Every event type an endpoint may subscribe to: `rollout.<type>` for each rollout event and
 * `delivery.<state>` for each state a delivery may move to.
 */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  ...rolloutEventTypes().map((type) => `rollout.${type}`),
  ...DeliveryState.options.map((state) => `delivery.${state}`),
];

/** What `webhooks.test` sends: not a fleet event, never queued, always sent whatever the patterns. */
export const WEBHOOK_PING_TYPE = 'ping';

/** The patterns besides exact types: everything, or every type of one kind. */
export const WEBHOOK_WILDCARDS = ['*', 'rollout.*', 'delivery.*'] as const;

/** Whether an event type matches a subscription pattern (`*`, `rollout.*`, or the type itself). */
export function webhookPatternMatches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  return pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1));
}

export const WebhookEventPattern = z
  .string()
  .max(64)
  .refine(
    (pattern) =>
      (WEBHOOK_WILDCARDS as readonly string[]).includes(pattern) || WEBHOOK_EVENT_TYPES.includes(pattern),
    {
      message: `an event type (${WEBHOOK_EVENT_TYPES.join(', ')}) or one of ${WEBHOOK_WILDCARDS.join(', ')}`,
    },
  );

/** A webhook endpoint's id: `wh_` and 16 hex digits. */
export const WebhookId = z.string().regex(/^wh_[a-f0-9]{16}$/, 'a webhook id looks like wh_0123456789abcdef');

/** Why a URL cannot be a webhook target by its form alone (the pod also checks where it resolves). */
export function webhookUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http and https URLs';
  if (url.username !== '' || url.password !== '') return 'no credentials in the URL (user:password@)';
  if (url.hash !== '') return 'no #fragment';
  if (url.hostname === '') return 'no host';
  return null;
}

export const WebhookUrl = safeText(2048, 1).superRefine((text, ctx) => {
  const problem = webhookUrlProblem(text);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

export const CreateWebhookInput = z.object({
  url: WebhookUrl,
  events: z
    .array(WebhookEventPattern)
    .min(1, 'at least one event type or pattern')
    .max(32)
    .transform((patterns) => [...new Set(patterns)]),
  description: safeText(200).default(''),
});
export type CreateWebhookInput = z.infer<typeof CreateWebhookInput>;

export const WebhookIdInput = z.object({ id: WebhookId });
export type WebhookIdInput = z.infer<typeof WebhookIdInput>;

export const WebhookEndpoint = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string(),
  createdAt: Timestamp,
  createdBy: z.string(),
  enabled: z.boolean(),
  /** Set while disabled: when, and why (N consecutive failures and the last one). */
  disabledAt: Timestamp.nullable(),
  disabledReason: z.string().nullable(),
  /** Failed attempts since the last success (at the pods' limit, the endpoint is disabled). */
  consecutiveFailures: z.number().int().nonnegative(),
  /** Deliveries waiting to be sent (or being sent). */
  backlog: z.number().int().nonnegative(),
  /** The most the backlog may hold; past it the oldest deliveries are dropped. */
  backlogLimit: z.number().int().positive(),
  /** Deliveries dropped because the backlog was full, and when the last one was. */
  dropped: z.number().int().nonnegative(),
  droppedAt: Timestamp.nullable(),
  delivered: z.number().int().nonnegative(),
  /** Deliveries given up after the most attempts or the longest age. */
  givenUp: z.number().int().nonnegative(),
  lastDeliveredAt: Timestamp.nullable(),
  lastFailureAt: Timestamp.nullable(),
  lastError: z.string().nullable(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** A new endpoint: its signing secret is in `secret`, shown this once. */
export const CreatedWebhook = WebhookEndpoint.extend({ secret: z.string() });
export type CreatedWebhook = z.infer<typeof CreatedWebhook>;

export const WEBHOOK_DELIVERY_STATES = ['pending', 'delivered', 'failed', 'dropped'] as const;
export const WebhookDeliveryState = z.enum(WEBHOOK_DELIVERY_STATES);
export type WebhookDeliveryState = z.infer<typeof WebhookDeliveryState>;

/** One event's delivery to one endpoint, as the endpoint's delivery log keeps it. */
export const WebhookDelivery = z.object({
  /** `<endpoint id>/<event id>`: the X-Camfleet-Delivery header, the same on every attempt. */
  id: z.string(),
  eventId: z.string(),
  type: z.string(),
  state: WebhookDeliveryState,
  attempts: z.number().int().nonnegative(),
  /** The last attempt's HTTP status (null: no answer) and error (null: it succeeded). */
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  /** When it is next tried (pending only; while an attempt runs, when it is tried again if that one is lost). */
  nextAttemptAt: Timestamp.nullable(),
  deliveredAt: Timestamp.nullable(),
  /** When the delivery was queued, and when it ended (delivered, given up or dropped). */
  createdAt: Timestamp,
  finishedAt: Timestamp.nullable(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookDeliveriesInput = z.object({
  id: WebhookId,
  limit: z.number().int().min(1).max(1000).default(50),
});
export type WebhookDeliveriesInput = z.infer<typeof WebhookDeliveriesInput>;

/** What one ping did: sent now from the pod that took the call, not queued, not retried. */
export const WebhookTestResult = z.object({
  eventId: z.string(),
  ok: z.boolean(),
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int().nonnegative(),
});
export type WebhookTestResult = z.infer<typeof WebhookTestResult>;

/** The JSON body of every webhook request (what receivers parse). */
export const WebhookPayload = z.object({
  /** The event's own id: the same on every retry, so receivers can drop duplicates. */
  id: z.string(),
  type: z.string(),
  /** When the event happened (RFC 3339, UTC, from Redis time). */
  time: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** Webhook endpoints and their delivery logs (admin role). */
export interface WebhookService {
  /** Refused when the URL's host resolves to an address the pods may not send to (SSRF). */
  create(input: CreateWebhookInput, actor: string): Promise<CreatedWebhook>;
  list(): Promise<WebhookEndpoint[]>;
  get(id: string): Promise<WebhookEndpoint>;
  /** The endpoint, its backlog and its log are gone; nothing more is sent to it. */
  delete(id: string, actor: string): Promise<WebhookEndpoint>;
  /** Enables a disabled endpoint: its failures are forgotten and its backlog is sent. */
  enable(id: string, actor: string): Promise<WebhookEndpoint>;
  /** The newest deliveries (pending and finished), newest first. */
  deliveries(input: WebhookDeliveriesInput): Promise<WebhookDelivery[]>;
  /** Sends a ping event now and answers what the endpoint said. */
  test(id: string, actor: string): Promise<WebhookTestResult>;
}
