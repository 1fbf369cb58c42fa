import { tracked } from '@trpc/server';
import { deviceProcedure, holdingSubscriptionOf, router } from '../trpc.js';
import { enrollProcedure } from './access.js';
import { ArtifactUrl, ArtifactUrlInput } from './artifact-url.schema.js';
import {
  Device,
  eventIdOf,
  OffersInput,
  RegisterInput,
  ReportInput,
  type ReportResult,
} from './device.schema.js';

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

  /**
   * No `.output()` parser: one report per delivery, and the answer is the server's own (the
   * validated input's deliveryId, the attempt and state the transition script returned), typed
   * ReportResult by the port. Its shape is still what devices are promised: the protocol's JSON
   * Schema is generated from ReportResult, and the conformance suite checks every answer with it.
   */
  report: deviceProcedure
    .input(ReportInput)
    .mutation(({ ctx, input }): Promise<ReportResult> => ctx.fleet.devices.report(ctx.deviceId, input)),

  /** A fresh download URL for the current attempt's artifact (a presigned one expired). */
  artifactUrl: deviceProcedure
    .input(ArtifactUrlInput)
    .output(ArtifactUrl)
    .mutation(({ ctx, input }) => ctx.fleet.devices.artifactUrl(ctx.deviceId, input)),
});
