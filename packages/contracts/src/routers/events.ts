import { tracked } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure, holdSubscription, router } from '../trpc.js';
import { EventsInput, FleetEvent, FollowEventsInput } from './events.schema.js';

/** The event stream: what happened, newest last; follow it live, resuming after reconnects. */
export const eventsRouter = router({
  list: adminProcedure('viewer')
    .input(EventsInput)
    .output(z.array(FleetEvent))
    .query(({ ctx, input }) => ctx.fleet.listEvents(input)),
  follow: adminProcedure('viewer')
    .input(FollowEventsInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const release = holdSubscription(ctx.connection);
      try {
        const events = ctx.fleet.followEvents({
          rolloutId: input.rolloutId ?? null,
          after: input.lastEventId ?? null,
          signal: signal ?? new AbortController().signal,
        });
        for await (const event of events) yield tracked(event.id, event);
      } finally {
        release();
      }
    }),
});
