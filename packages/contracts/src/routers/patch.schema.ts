import { z } from 'zod';
import { ArtifactRef, PatchId, Timestamp } from '../schemas.js';

export const PatchName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._ +-]*$/, 'letters, digits, space and . _ + - only');
export const PatchVersion = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'letters, digits and . _ + - only');

export const PublishPatchInput = z.object({
  name: PatchName,
  version: PatchVersion,
  notes: z.string().max(4096).default(''),
});
export type PublishPatchInput = z.infer<typeof PublishPatchInput>;

export const Patch = z.object({
  id: PatchId,
  name: PatchName,
  version: PatchVersion,
  notes: z.string(),
  /** Filled once artifacts exist; offers already carry the slot. */
  artifact: ArtifactRef.nullable(),
  createdAt: Timestamp,
  createdBy: z.string(),
});
export type Patch = z.infer<typeof Patch>;

export const GetPatchInput = z.object({ patchId: PatchId });
export const ListPatchesInput = z.object({ limit: z.number().int().min(1).max(500).default(100) }).default({
  limit: 100,
});
