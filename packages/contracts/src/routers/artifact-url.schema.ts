import { z } from 'zod';
import { DeliveryId, Timestamp } from '../schemas.js';

/** device.artifactUrl: a fresh download URL for the artifact (or delta) of the device's current attempt. */
export const ArtifactUrlInput = z.object({
  deliveryId: DeliveryId,
  attempt: z.number().int().positive().max(10_000),
  /** The URL of the offer's delta instead of its full artifact. */
  delta: z.boolean().optional(),
});
export type ArtifactUrlInput = z.infer<typeof ArtifactUrlInput>;

export const ArtifactUrl = z.object({
  /** Absolute (presigned, from the object store), or relative to the pod (`/artifacts/<sha256>`). */
  url: z.string().max(4096),
  /** When a presigned URL stops working (server clock); null: a pod URL, which does not expire. */
  expiresAt: Timestamp.nullable(),
});
export type ArtifactUrl = z.infer<typeof ArtifactUrl>;
