import { z } from 'zod';
import { DELIVERY_STATES } from './states.js';

/*
 * Text a client sends (a camera, an operator) ends up in Redis, in logs, on operators' terminals
 * and in the dashboard. Two rules cover all of it:
 *
 * - Names and ids: a letter or digit, then letters, digits and `. _ -`, nothing else (`nameRule()`).
 *   Some kinds allow one or two more characters their use needs: patch names a space and `+`,
 *   versions `+` (semver build metadata), admin and enrollment token names `@`, label keys `/`.
 *   Never `:`: a device id is the user-id of `Authorization: Device <id>:<secret>` and of HTTP
 *   Basic (RFC 7617 forbids `:` there), so an id with one could never download an artifact.
 * - Free text (models, firmware versions, label values, notes, reasons, error messages): any
 *   Unicode except control characters: C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F),
 *   the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), and lone
 *   surrogates (invalid UTF-16) — `SafeText`. A device's error message is the one exception,
 *   `FreeText`: there tab, CR and LF become a space, and every other control is still refused.
 *
 * Output-only fields the server fills in keep `z.string()`; a field read back from Redis that an
 * older version may have stored unchecked stays lax on output (see `StoredDeviceId`), so old data
 * is still shown (the CLI and the dashboard escape what they print).
 */

/** The characters no client text may hold (surrogates are checked apart, in pairs). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LAYOUT_CONTROLS = /[\t\r\n]/g;

/** Why the text is not clean (a readable zod message), or null when it is. */
export function uncleanText(text: string): string | null {
  const control = CONTROL_CHARACTERS.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0);
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return code >= 0x202a
      ? `bidirectional control characters are not allowed (${hex} at ${control.index})`
      : `control characters are not allowed (${hex} at ${control.index})`;
  }
  const lone = LONE_SURROGATE.exec(text);
  if (lone) return `invalid UTF-16: a lone surrogate at ${lone.index}`;
  return null;
}

function refuseUnclean(text: string, ctx: z.RefinementCtx): void {
  const problem = uncleanText(text);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
}

/** Client text of at most `max` characters (at least `min`), without control characters. */
export function safeText(max: number, min = 0) {
  return z.string().min(min).max(max).superRefine(refuseUnclean);
}

/**
 * A device's free-text message (a failed report's error): tab, CR and LF become a space, any
 * other control character is refused as in `safeText`.
 */
export function freeText(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .transform((text) => text.replace(LAYOUT_CONTROLS, ' '))
    .superRefine(refuseUnclean);
}

/**
 * A name or id under the one rule above: `^[A-Za-z0-9][A-Za-z0-9._-]*$`, plus the characters in
 * `extra` (from ` +@/` only), 1 to `max` characters.
 */
export function nameRule(max: number, extra: '' | ' +' | '+' | '@' | '/' = '') {
  const allowed = `letters, digits${extra
    .split('')
    .map((c) => (c === ' ' ? ', space' : `, ${c}`))
    .join('')} and . _ - only, starting with a letter or digit`;
  const escaped = extra.replace(/[+/]/g, '\\$&');
  return z
    .string()
    .min(1)
    .max(max)
    .regex(new RegExp(`^[A-Za-z0-9][A-Za-z0-9._${escaped}-]*$`), allowed);
}

/**
 * Identifier of a device: what a camera calls itself. Also used inside Redis keys, so kept tight;
 * no `:` (see above).
 */
export const DeviceId = nameRule(128);

/**
 * A device id as an older version may have stored it (it allowed `:`): what the server's answers
 * carry, and what get, rotate and revoke accept, so such a device can be found and retired. New
 * devices (provision, enrollment, registration) need `DeviceId`; `devices.checkIds` lists the rest.
 */
export const StoredDeviceId = z
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
/** A delivery is one (rollout, device) pair; its id names both (`ro_…:<device id>`). */
export const DeliveryId = safeText(200, 4);

export const LabelKey = nameRule(63, '/');
export const LabelValue = safeText(128);
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

/** How a delta rebuilds the artifact: `zstd -d --long=31 --patch-from=<running image> <delta>`. */
export const DELTA_FORMATS = ['zstd-patch'] as const;

/**
 * A binary delta of the artifact against the image of version `fromVersion` (whose sha256 is
 * `baseSha256`): applied to that image it yields exactly the artifact (its sha256 and size, which
 * the signature covers).
 */
export const DeltaRef = ArtifactRef.extend({
  format: z.enum(DELTA_FORMATS),
  fromVersion: z.string(),
  baseSha256: z.string().regex(/^[a-f0-9]{64}$/),
});
export type DeltaRef = z.infer<typeof DeltaRef>;
