import type { FleetEvent, WebhookPayload } from '@camfleet/contracts';
import { WEBHOOK_PING_TYPE } from '@camfleet/contracts';
import { deliveryIdOf } from '../fleet/ids.js';

/** A fleet event's webhook type: `rollout.<type>` or `delivery.<state it moved to>`. */
export function webhookTypeOf(event: FleetEvent): string {
  return event.kind === 'rollout' ? `rollout.${event.type}` : `delivery.${event.to}`;
}

/** The webhook body of a fleet event: `{id, type, time, data}`, id the event's own. */
export function webhookPayloadOf(event: FleetEvent): WebhookPayload {
  const data =
    event.kind === 'rollout'
      ? { rolloutId: event.rolloutId, actor: event.actor, reason: event.reason, wave: event.wave }
      : {
          rolloutId: event.rolloutId,
          deviceId: event.deviceId,
          deliveryId: deliveryIdOf(event.rolloutId, event.deviceId),
          attempt: event.attempt,
          from: event.from,
          to: event.to,
          error: event.error,
        };
  return { id: event.id, type: webhookTypeOf(event), time: new Date(event.at).toISOString(), data };
}

/** What `webhook test` sends: a ping, not a fleet event. */
export function pingPayload(eventId: string, webhookId: string, atMs: number): WebhookPayload {
  return {
    id: eventId,
    type: WEBHOOK_PING_TYPE,
    time: new Date(atMs).toISOString(),
    data: { webhookId, message: 'a test from camfleet (fleet webhook test)' },
  };
}
