import type { WebhookDelivery, WebhookDeliveryState, WebhookEndpoint } from '@camfleet/contracts';

type Hash = Record<string, string>;

/** A time field: 0 or missing is none. */
const time = (value: string | undefined): number | null => (value && value !== '0' ? Number(value) : null);
const count = (value: string | undefined): number => Number(value ?? 0) || 0;

/** An endpoint as stored (without its secret), its backlog and the pods' backlog limit. */
export function endpointOf(h: Hash, backlog: number, backlogLimit: number): WebhookEndpoint {
  return {
    id: h.id ?? '',
    url: h.url ?? '',
    events: (h.events ?? '').split(',').filter((e) => e !== ''),
    description: h.description ?? '',
    createdAt: count(h.createdAt),
    createdBy: h.createdBy ?? '',
    enabled: h.enabled === '1',
    disabledAt: time(h.disabledAt),
    disabledReason: h.disabledReason || null,
    consecutiveFailures: count(h.failures),
    backlog,
    backlogLimit,
    dropped: count(h.dropped),
    droppedAt: time(h.droppedAt),
    delivered: count(h.delivered),
    givenUp: count(h.givenUp),
    lastDeliveredAt: time(h.lastDeliveredAt),
    lastFailureAt: time(h.lastFailureAt),
    lastError: h.lastError || null,
  };
}

const STATES: readonly WebhookDeliveryState[] = ['pending', 'delivered', 'failed', 'dropped'];

/** A delivery as stored; `dueAt` is its score in the due set (null: not due, e.g. parked or ended). */
export function deliveryOf(endpointId: string, h: Hash, dueAt: number | null): WebhookDelivery {
  const state = STATES.find((s) => s === h.state) ?? 'pending';
  const status = count(h.lastStatus);
  return {
    id: `${endpointId}/${h.event ?? ''}`,
    eventId: h.event ?? '',
    type: h.type ?? '',
    state,
    attempts: count(h.attempts),
    lastStatus: status === 0 ? null : status,
    lastError: h.lastError || null,
    nextAttemptAt: state === 'pending' ? dueAt : null,
    deliveredAt: time(h.deliveredAt),
    createdAt: count(h.createdAt),
    finishedAt: time(h.finishedAt),
  };
}
