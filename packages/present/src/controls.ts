/**
 * Text from the store made safe to show: what a device or an older version stored may hold
 * terminal escapes, bells, NULs or bidi overrides, and printing them raw lets a device rewrite an
 * operator's terminal or reorder what a page shows.
 *
 * The rule: every C0 control (U+0000–U+001F), DEL (U+007F), C1 control (U+0080–U+009F), bidi
 * embedding, override or isolate (U+202A–U+202E, U+2066–U+2069) and lone surrogate is shown as
 * `\uXXXX` (four lowercase hex digits, as JSON writes it): ESC → `\u001b`, a newline → `\u000a`.
 * Everything else (accents, CJK, emoji, the backslash itself) is left as it is; the result is for
 * people, not a reversible encoding. The same characters the contracts refuse in new input.
 */

const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
  /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** What JSON.stringify leaves raw of the above: DEL, C1 and bidi (it escapes C0 and lone surrogates). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const unicodeEscape = (char: string): string => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** The text with every control, bidi and lone-surrogate character written as `\uXXXX`. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, unicodeEscape);
}

/** Whether the text holds anything `escapeControls` would change. */
export function hasControls(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/**
 * A JSON document (JSON.stringify's output) with DEL, C1 and bidi characters escaped as `\uXXXX`
 * too, so the document is safe to print; it still parses to the same value.
 */
export function escapeJsonControls(json: string): string {
  return json.replace(UNSAFE_IN_JSON, unicodeEscape);
}
