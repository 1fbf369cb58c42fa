import { z } from 'zod';
import { DELIVERY_STATES } from './states.js';

/** Identifier of a device: what a camera calls itself. Also used inside Redis keys, so kept tight. */
export const DeviceId = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
    'letters, digits and . _ : - only, starting with a letter or digit',
  );

/** Server-generated identifiers (patches, rollouts). */
export const PatchId = z.string().regex(/^pat_[a-z0-9]{1,40}$/, 'a patch id looks like pat_…');
export const RolloutId = z.string().regex(/^ro_[a-z0-9]{1,40}$/, 'a rollout id looks like ro_…');
/** A delivery is one (rollout, device) pair; its id names both. */
export const DeliveryId = z.string().min(4).max(200);

export const LabelKey = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'label keys: letters, digits and . _ / -');
export const LabelValue = z.string().max(128);
export const Labels = z
  .record(LabelKey, LabelValue)
  .refine((labels) => Object.keys(labels).length <= 32, 'at most 32 labels');

/** Epoch milliseconds, always taken from Redis TIME. */
export const Timestamp = z.number().int().nonnegative();

export { DELIVERY_STATES, FINAL_STATES, OPEN_STATES } from './states.js';
export const DeliveryState = z.enum(DELIVERY_STATES);
export type DeliveryState = z.infer<typeof DeliveryState>;

export const StateCounts = z.object(
  Object.fromEntries(DELIVERY_STATES.map((s) => [s, z.number().int().nonnegative()])) as Record<
    DeliveryState,
    z.ZodNumber
  >,
);
export type StateCounts = z.infer<typeof StateCounts>;

export const ArtifactRef = z.object({
  sha256: z.string().regex(/^[a-f0-9]{64}$/),
  size: z.number().int().nonnegative(),
  url: z.string().max(2048),
});
export type ArtifactRef = z.infer<typeof ArtifactRef>;
