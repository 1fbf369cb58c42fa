import { z } from 'zod';
import { DeliveryState, RolloutId, StoredDeviceId, Timestamp } from '../schemas.js';

/** An event's id: `<stream entry id>/<stream>` (`g` for rollouts, `b<n>` for a bucket's deliveries). */
export const EventId = z
  .string()
  .max(64)
  .regex(/^\d{1,20}-\d{1,20}\/(g|b\d{1,4})$/, 'an event id looks like 1733450000000-0/b12');

/** Something that happened to a rollout or one of its deliveries, as kept in Redis (bounded). */
export const FleetEvent = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('rollout'),
    /** Stream position; events are ordered by time, ties within a millisecond in any order. */
    id: z.string(),
    at: Timestamp,
    rolloutId: RolloutId,
    type: z.enum([
      'created',
      'paused',
      'resumed',
      'canceled',
      'aborted',
      'wave_met',
      'wave_opened',
      /** Its schedule started it, or ended it (at `endBy`). */
      'started',
      'ended',
      /** Its background attach reached more buckets (`reason`: "attached 16/64 buckets"), or all. */
      'attaching',
      'attached',
    ]),
    actor: z.string(),
    reason: z.string().nullable(),
    wave: z.number().int().nullable(),
  }),
  z.object({
    kind: z.literal('delivery'),
    id: z.string(),
    at: Timestamp,
    rolloutId: RolloutId,
    deviceId: StoredDeviceId,
    attempt: z.number().int(),
    from: DeliveryState.nullable(),
    to: DeliveryState,
    error: z.string().nullable(),
  }),
]);
export type FleetEvent = z.infer<typeof FleetEvent>;

export const EventsInput = z
  .object({
    rolloutId: RolloutId.optional(),
    /** Only events after this id (from a previous answer); default: the newest `limit`. */
    after: EventId.optional(),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .default({ limit: 100 });
export type EventsInput = z.infer<typeof EventsInput>;

export const FollowEventsInput = z
  .object({
    rolloutId: RolloutId.optional(),
    /** Set by the client on resubscribe (tracked ids). */
    lastEventId: EventId.nullish(),
  })
  .default({});
export type FollowEventsInput = z.infer<typeof FollowEventsInput>;

export interface EventService {
  /** Stored events, oldest first: the newest `limit`, or those after `after`. */
  list(input: EventsInput): Promise<FleetEvent[]>;
  /** Events as they happen (after `after`, if given), until the signal aborts. */
  follow(options: {
    rolloutId: string | null;
    after: string | null;
    signal: AbortSignal;
  }): AsyncIterable<FleetEvent>;
}
