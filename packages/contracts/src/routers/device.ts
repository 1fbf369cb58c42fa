import { tracked } from '@trpc/server';
import { deviceProcedure, holdingSubscriptionOf, router } from '../trpc.js';
import { enrollProcedure } from './access.js';
import { ArtifactUrl, ArtifactUrlInput } from './artifact-url.schema.js';
import { Device, eventIdOf, OffersInput, RegisterInput, ReportInput, ReportResult } from './device.schema.js';

/** What a camera calls, as itself. */
export const deviceRouter = router({
  register: deviceProcedure
    .input(RegisterInput)
    .output(Device)
    .mutation(({ ctx, input }) => ctx.fleet.devices.register(ctx.deviceId, ctx.connection, input)),

  /** Pushed offers and cancel requests. */
  offers: deviceProcedure.input(OffersInput).subscription(({ ctx, input, signal }) => {
    const connection = ctx.connection;
    // One iterator from the session to the frame (no generator per layer): every delivery passes here.
    return holdingSubscriptionOf(
      connection,
      (stop) => {
        if (!connection) throw new Error('offers need a WebSocket connection');
        return ctx.fleet.devices.offers(ctx.deviceId, {
          connection,
          lastEventId: input.lastEventId ?? null,
          signal: stop,
        });
      },
      signal,
      // A resubscribe names the last event id seen; the server does not repeat that event.
      (event) => tracked(eventIdOf(event), event),
    );
  }),

  /** With an enrollment token: get this device's own credential (once). */
  enroll: enrollProcedure,

  report: deviceProcedure
    .input(ReportInput)
    .output(ReportResult)
    .mutation(({ ctx, input }) => ctx.fleet.devices.report(ctx.deviceId, input)),

  /** A fresh download URL for the current attempt's artifact (a presigned one expired). */
  artifactUrl: deviceProcedure
    .input(ArtifactUrlInput)
    .output(ArtifactUrl)
    .mutation(({ ctx, input }) => ctx.fleet.devices.artifactUrl(ctx.deviceId, input)),
});
