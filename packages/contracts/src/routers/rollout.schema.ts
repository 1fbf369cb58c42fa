import { z } from 'zod';
import { PatchId, RolloutId, StateCounts, Timestamp } from '../schemas.js';
import { PatchName, PatchVersion } from './patch.schema.js';

export const RolloutTarget = z.discriminatedUnion('kind', [z.object({ kind: z.literal('all') })]);
export type RolloutTarget = z.infer<typeof RolloutTarget>;

export const RetryBackoff = z
  .object({
    baseMs: z.number().int().min(10).max(3_600_000).default(2_000),
    maxMs: z.number().int().min(10).max(86_400_000).default(60_000),
  })
  .refine((b) => b.maxMs >= b.baseMs, 'retryBackoff.maxMs must be at least baseMs');

export const CreateRolloutInput = z.object({
  patchId: PatchId,
  target: RolloutTarget.default({ kind: 'all' }),
  /** A device must report within this long after an offer (or its last report). */
  ackTimeoutMs: z.number().int().min(100).max(86_400_000).default(60_000),
  maxAttempts: z.number().int().min(1).max(100).default(5),
  retryBackoff: RetryBackoff.default({ baseMs: 2_000, maxMs: 60_000 }),
});
export type CreateRolloutInput = z.infer<typeof CreateRolloutInput>;

/** `completed` is derived: nothing is open right now (a later device can reopen it). */
export const RolloutStatusName = z.enum(['active', 'completed', 'canceled']);

export const Rollout = z.object({
  id: RolloutId,
  seq: z.number().int().positive(),
  patchId: PatchId,
  patch: z.object({ name: PatchName, version: PatchVersion }),
  target: RolloutTarget,
  ackTimeoutMs: z.number().int(),
  maxAttempts: z.number().int(),
  retryBackoff: z.object({ baseMs: z.number().int(), maxMs: z.number().int() }),
  createdAt: Timestamp,
  createdBy: z.string(),
  canceledAt: Timestamp.nullable(),
  canceledBy: z.string().nullable(),
});
export type Rollout = z.infer<typeof Rollout>;

export const RolloutStatus = Rollout.extend({
  status: RolloutStatusName,
  /** Devices with a delivery of this rollout, in any state. */
  targeted: z.number().int().nonnegative(),
  counts: StateCounts,
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;

export const RolloutIdInput = z.object({ rolloutId: RolloutId });
export const WatchRolloutInput = z.object({
  rolloutId: RolloutId,
  intervalMs: z.number().int().min(100).max(60_000).default(500),
});
export const ListRolloutsInput = z.object({ limit: z.number().int().min(1).max(500).default(50) }).default({
  limit: 50,
});
