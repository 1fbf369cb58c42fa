import { z } from 'zod';

/**
 * The original system's device protocol, served for cameras that cannot be re-flashed yet: plain
 * JSON text frames on `/ws/<device_id>`. The server sends an update; the camera answers each one,
 * in order, echoing it.
 */
export const LegacyUpdate = z.object({
  patch_file: z.string().min(1).max(512),
  patch_path: z.string().min(1).max(2048),
  /** Unix seconds (a float) when the update was first sent: with patch_file, what an echo matches on. */
  timestamp: z.number().finite(),
});
export type LegacyUpdate = z.infer<typeof LegacyUpdate>;

/** Server → camera. */
export const LegacyUpdateFrame = z.object({ update: LegacyUpdate });
export type LegacyUpdateFrame = z.infer<typeof LegacyUpdateFrame>;

/** Camera → server: the outcome of one update, with the update echoed. */
export const LegacyAnswer = z.object({
  status: z.enum(['success', 'failed']),
  device_id: z.string().min(1).max(128),
  update: LegacyUpdate,
});
export type LegacyAnswer = z.infer<typeof LegacyAnswer>;
