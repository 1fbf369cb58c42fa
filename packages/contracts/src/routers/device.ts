import { tracked } from '@trpc/server';
import { deviceProcedure, router } from '../trpc.js';
import { Device, OffersInput, RegisterInput, ReportInput, ReportResult } from './device.schema.js';

/** What a camera calls, as itself. */
export const deviceRouter = router({
  register: deviceProcedure
    .input(RegisterInput)
    .output(Device)
    .mutation(({ ctx, input }) => ctx.fleet.registerDevice(ctx.deviceId, ctx.connection, input)),

  /** Pushed offers. Event ids are offer ids, so a resubscribe names the last one seen. */
  offers: deviceProcedure.input(OffersInput).subscription(async function* ({ ctx, input, signal }) {
    if (!ctx.connection) throw new Error('offers need a WebSocket connection');
    const offers = ctx.fleet.deviceOffers(ctx.deviceId, {
      connection: ctx.connection,
      lastEventId: input.lastEventId ?? null,
      signal: signal ?? new AbortController().signal,
    });
    for await (const event of offers) {
      // Event ids: an offer's id, or the cancel of one; a resubscribe names the last one seen.
      yield tracked(
        event.type === 'offer' ? event.offer.offerId : `${event.deliveryId}#${event.attempt}!cancel`,
        event,
      );
    }
  }),

  report: deviceProcedure
    .input(ReportInput)
    .output(ReportResult)
    .mutation(({ ctx, input }) => ctx.fleet.report(ctx.deviceId, input)),
});
