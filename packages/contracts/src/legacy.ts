import { z } from 'zod';
import { safeText } from './schemas.js';

/**
 * The original system's device protocol, served for cameras that cannot be re-flashed yet: plain
 * JSON text frames on `/ws/<device_id>`. The server sends an update; the camera answers each one,
 * in order, echoing it.
 */
export const LegacyUpdate = z.object({
  patch_file: safeText(512, 1),
  patch_path: safeText(2048, 1),
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
  device_id: safeText(128, 1),
  update: LegacyUpdate,
});
export type LegacyAnswer = z.infer<typeof LegacyAnswer>;
