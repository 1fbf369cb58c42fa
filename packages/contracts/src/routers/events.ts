import { tracked } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure, holdingSubscription, router } from '../trpc.js';
import { EventsInput, FleetEvent, FollowEventsInput } from './events.schema.js';

/** The event stream: what happened, newest last; follow it live, resuming after reconnects. */
export const eventsRouter = router({
  list: adminProcedure('viewer')
    .input(EventsInput)
    .output(z.array(FleetEvent))
    .query(({ ctx, input }) => ctx.fleet.events.list(input)),
  follow: adminProcedure('viewer')
    .input(FollowEventsInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const events = holdingSubscription(
        ctx.connection,
        (stop) =>
          ctx.fleet.events.follow({
            rolloutId: input.rolloutId ?? null,
            after: input.lastEventId ?? null,
            signal: stop,
          }),
        signal,
      );
      for await (const event of events) yield tracked(event.id, event);
    }),
});
