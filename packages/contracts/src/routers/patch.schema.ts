import { z } from 'zod';
import { Sha256, Signature } from '../manifest.js';
import { ArtifactRef, DELTA_FORMATS, freeText, nameRule, PatchId, Timestamp } from '../schemas.js';

/** The name rule (schemas.ts), plus space and `+`. */
export const PatchName = nameRule(128, ' +');
/** The name rule, plus `+` (semver build metadata). */
export const PatchVersion = nameRule(64, '+');

/** An uploaded artifact (PUT /artifacts): what a patch installs. */
export const ArtifactUpload = z.object({ sha256: Sha256, size: z.number().int().nonnegative() });

export const PublishPatchInput = z.object({
  name: PatchName,
  version: PatchVersion,
  notes: freeText(4096).default(''), // pasted release notes: line breaks become spaces
  /** The bytes, uploaded first; optional for patches that carry no file. */
  artifact: ArtifactUpload.optional(),
  /** The publisher's Ed25519 signature of the manifest (name, version, sha256, size). */
  signature: Signature.optional(),
});
export type PublishPatchInput = z.infer<typeof PublishPatchInput>;

export const Patch = z.object({
  id: PatchId,
  name: PatchName,
  version: PatchVersion,
  notes: z.string(),
  /** The file to install (sha256, size, download URL on any pod), if the patch has one. */
  artifact: ArtifactRef.nullable(),
  signature: Signature.nullable(),
  createdAt: Timestamp,
  createdBy: z.string(),
});
export type Patch = z.infer<typeof Patch>;

export const GetPatchInput = z.object({ patchId: PatchId });

/**
 * A delta of a patch's artifact from an earlier patch of the same name (`fromVersion`): stored
 * beside the full artifact, offered to devices that run exactly `fromVersion`.
 */
export const PatchDelta = z.object({
  fromPatchId: PatchId,
  fromVersion: z.string(),
  format: z.enum(DELTA_FORMATS),
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  /** The artifact of `fromPatchId`: the image the delta applies to. */
  baseSha256: Sha256,
  /** What applying it yields: the patch's own artifact. */
  targetSha256: Sha256,
  createdAt: Timestamp,
  createdBy: z.string(),
});
export type PatchDelta = z.infer<typeof PatchDelta>;

/** patch.createDelta: a delta from `fromPatchId` (same name, another version, both with artifacts). */
export const CreateDeltaInput = z.object({ patchId: PatchId, fromPatchId: PatchId });
export type CreateDeltaInput = z.infer<typeof CreateDeltaInput>;

/** A patch with where its bytes are kept, its deltas, and which rollouts use it. */
export const PatchDetail = Patch.extend({
  storage: z.string().nullable(),
  deltas: z.array(PatchDelta),
  rollouts: z.array(z.object({ id: z.string(), status: z.string() })),
});
export type PatchDetail = z.infer<typeof PatchDetail>;
export const ListPatchesInput = z.object({ limit: z.number().int().min(1).max(500).default(100) }).default({
  limit: 100,
});

export interface PatchService {
  publish(input: PublishPatchInput, actor: string): Promise<Patch>;
  list(limit: number): Promise<Patch[]>;
  get(patchId: string): Promise<PatchDetail>;
  delete(patchId: string, actor: string): Promise<{ patchId: string; deleted: true }>;
  /** Makes (or returns the existing) delta; rollouts created afterwards offer it. */
  createDelta(input: CreateDeltaInput, actor: string): Promise<PatchDelta>;
}
