import { z } from 'zod';
import type { ConnectionRef } from '../connection.js';
import { Signature } from '../manifest.js';
import {
  ArtifactRef,
  DeliveryId,
  DeliveryState,
  DeltaRef,
  freeText,
  Labels,
  PatchId,
  RolloutId,
  StoredDeviceId,
  safeText,
  Timestamp,
} from '../schemas.js';
import type { ArtifactUrl, ArtifactUrlInput } from './artifact-url.schema.js';

/** A device's model and firmware version: free text without control characters. */
export const DeviceModel = safeText(64, 1);
export const FirmwareVersion = safeText(64, 1);

export const RegisterInput = z.object({
  model: DeviceModel,
  firmwareVersion: FirmwareVersion,
  labels: Labels.default({}),
});
export type RegisterInput = z.infer<typeof RegisterInput>;

/** As stored: older versions stored ids with `:` and text unchecked, so output stays lax here. */
export const Device = z.object({
  id: StoredDeviceId,
  model: z.string(),
  firmwareVersion: z.string(),
  labels: z.record(z.string(), z.string()),
  firstSeenAt: Timestamp,
  lastSeenAt: Timestamp,
  online: z.boolean(),
  /** Pod instance holding the device's connection, while online. */
  node: z.string().nullable(),
});
export type Device = z.infer<typeof Device>;

/** What a device is told to install. `offerId` changes with every attempt. */
export const Offer = z.object({
  offerId: z.string(),
  deliveryId: DeliveryId,
  rolloutId: RolloutId,
  attempt: z.number().int().positive(),
  patch: z.object({
    id: PatchId,
    name: z.string(),
    version: z.string(),
    notes: z.string(),
    artifact: ArtifactRef.nullable(),
    /**
     * A smaller download for a device on `delta.fromVersion`: applied to its running image it
     * yields the artifact. Optional to use; one that fails to apply falls back to `artifact`.
     */
    delta: DeltaRef.nullable(),
    signature: Signature.nullable(),
  }),
  /** Report within this long, or the attempt times out. */
  ackTimeoutMs: z.number().int().positive(),
  deadlineAt: Timestamp,
  /**
   * The device's maintenance window this offer was made in, when the rollout has windows: begin
   * the install before `closesAt` (one under way when it closes finishes); past it, wait for the
   * next offer. Null: any time.
   */
  installWindow: z.object({ opensAt: Timestamp, closesAt: Timestamp }).nullable(),
});
export type Offer = z.infer<typeof Offer>;

/**
 * What the offers subscription yields: a new offer, or a request to stop working on one (the
 * rollout was canceled or aborted). A device that can still stop reports `canceled`; one that
 * cannot simply carries on and reports its real outcome.
 */
export const DeviceEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('offer'), offer: Offer }),
  z.object({
    type: z.literal('cancel'),
    deliveryId: DeliveryId,
    attempt: z.number().int().positive(),
    reason: z.string(),
  }),
]);
export type DeviceEvent = z.infer<typeof DeviceEvent>;

/** The tracked id of a device event: an offer's id, or the cancel of one. */
export function eventIdOf(event: DeviceEvent): string {
  return event.type === 'offer' ? event.offer.offerId : `${event.deliveryId}#${event.attempt}!cancel`;
}

export const OffersInput = z.object({ lastEventId: safeText(300).nullish() }).default({ lastEventId: null });

/**
 * downloading, installing: progress. installed: applied, the device restarts now and proves the
 * version by registering with it. succeeded: applied and running without a restart (give the
 * version it runs). failed: the attempt failed. canceled: the device honoured a cancel request.
 */
export const REPORT_STATUSES = [
  'downloading',
  'installing',
  'installed',
  'succeeded',
  'failed',
  'canceled',
] as const;
export const ReportStatus = z.enum(REPORT_STATUSES);
export type ReportStatus = z.infer<typeof ReportStatus>;

export const ReportInput = z
  .object({
    deliveryId: DeliveryId,
    attempt: z.number().int().positive().max(10_000),
    status: ReportStatus,
    progress: z.number().min(0).max(100).optional(),
    /** Tab, CR and LF become spaces; other control characters are refused. */
    error: freeText(1024, 1).optional(),
    /** Bytes downloaded so far (with `downloading`). */
    bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    /** The firmware version the device runs now (with `succeeded`). */
    firmwareVersion: FirmwareVersion.optional(),
    /** With `installed` or `succeeded`: the image was rebuilt from the offer's delta (bytes saved are counted). */
    delta: z.boolean().optional(),
  })
  .refine((r) => r.status !== 'failed' || r.error !== undefined, {
    message: 'a failed report needs an error',
    path: ['error'],
  })
  .refine((r) => r.status !== 'succeeded' || r.firmwareVersion !== undefined, {
    message: 'a succeeded report needs the firmwareVersion the device now runs',
    path: ['firmwareVersion'],
  });
export type ReportInput = z.infer<typeof ReportInput>;

export const ReportResult = z.object({
  deliveryId: DeliveryId,
  attempt: z.number().int(),
  state: DeliveryState,
  /** True when the report repeated one already applied: nothing changed. */
  duplicate: z.boolean(),
});
export type ReportResult = z.infer<typeof ReportResult>;

export interface OffersOptions {
  connection: ConnectionRef;
  /** Offer id the client saw last (tRPC tracked events); skip re-sending exactly that offer. */
  lastEventId: string | null;
  signal: AbortSignal;
}

/** What a camera does, as itself. */
export interface DeviceService {
  register(deviceId: string, connection: ConnectionRef | null, input: RegisterInput): Promise<Device>;
  /** Events for one device: its current offer first, then offers and cancel requests, until the signal aborts. */
  offers(deviceId: string, options: OffersOptions): AsyncIterable<DeviceEvent>;
  report(deviceId: string, input: ReportInput): Promise<ReportResult>;
  /** A fresh URL for the artifact of the device's current attempt (its earlier one expired). */
  artifactUrl(deviceId: string, input: ArtifactUrlInput): Promise<ArtifactUrl>;
}
