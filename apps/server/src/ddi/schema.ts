import { z } from 'zod';

/**
 * hawkBit DDI bodies, as off-the-shelf agents (SWUpdate's suricatta, rauc-hawkbit-updater) send
 * them: only what camfleet reads is checked, the rest is let through untouched.
 */

/** `status.execution`: what the agent is doing with the action. */
export const DdiExecution = z.enum([
  'closed',
  'proceeding',
  'canceled',
  'scheduled',
  'rejected',
  'resumed',
  'downloaded',
  'download',
]);
export type DdiExecution = z.infer<typeof DdiExecution>;

export const DdiFeedback = z.object({
  status: z.object({
    execution: DdiExecution,
    result: z
      .object({
        finished: z.enum(['success', 'failure', 'none']).default('none'),
        progress: z
          .object({ cnt: z.number().int().nonnegative(), of: z.number().int().nonnegative() })
          .optional(),
      })
      .default({ finished: 'none' }),
    details: z.array(z.string().max(16_384)).max(200).default([]),
  }),
});
export type DdiFeedback = z.infer<typeof DdiFeedback>;

/** `PUT configData`: the agent's attributes (merged into the device's labels; see README). */
export const DdiConfigData = z.object({
  mode: z.enum(['merge', 'replace', 'remove']).default('merge'),
  data: z.record(z.string().max(63), z.string().max(128)).refine((d) => Object.keys(d).length <= 32, {
    message: 'at most 32 attributes',
  }),
});
export type DdiConfigData = z.infer<typeof DdiConfigData>;

/** Action ids are numbers (SWUpdate reads them as integers): rollout sequence × this + attempt. */
export const ATTEMPTS_PER_ACTION_ID = 10_000;
