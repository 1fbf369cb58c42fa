import { stripVTControlCharacters } from 'node:util';
import { escapeControls } from '@camfleet/present';
import Table from 'cli-table3';
import stringWidth from 'string-width';
import type { Colors } from './colors.js';

/** Text without its escape sequences (colours, cursor moves): what a terminal shows of it. */
export function stripAnsi(text: string): string {
  return stripVTControlCharacters(text);
}

/**
 * The colour codes the CLI writes itself (picocolors: one SGR number each); `8` (hidden) is not
 * among them, so a stored `\u001b[8m` cannot hide what follows.
 */
const OWN_SGR = new RegExp(`${String.fromCharCode(0x1b)}\\[(\\d{1,3})m`, 'g');
const OWN_SGR_CODES = new Set([0, 1, 2, 3, 4, 7, 9, 22, 23, 24, 27, 29, 39, 49]);
for (const [from, to] of [
  [30, 37],
  [40, 47],
  [90, 97],
  [100, 107],
]) {
  for (let code = from ?? 0; code <= (to ?? 0); code++) OWN_SGR_CODES.add(code);
}

/**
 * Text safe to write to a terminal: every control, bidi and lone-surrogate character shown as
 * `\uXXXX` (escapeControls), so what a device stored (an escape that clears the screen or sets the
 * title, a bell, a bidi override) is printed, never obeyed. With colours on, the colour codes the
 * CLI writes itself are kept (so a stored colour code can colour a cell there, but never move the
 * cursor, clear, retitle or hide). Every table cell, key-value and printed line goes through here;
 * escaped text holds nothing to escape, so passing twice changes nothing.
 */
export function terminalText(text: string, c: Colors): string {
  if (!c.isColorSupported) return escapeControls(text);
  let out = '';
  let last = 0;
  for (const match of text.matchAll(OWN_SGR)) {
    if (!OWN_SGR_CODES.has(Number(match[1]))) continue;
    out += escapeControls(text.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return out + escapeControls(text.slice(last));
}

/** `terminalText` line by line: the text's own line breaks are kept (a table's rows). */
export function terminalLines(text: string, c: Colors): string {
  return text
    .split('\n')
    .map((line) => terminalText(line, c))
    .join('\n');
}

/** Columns the text takes on a terminal: escapes take none, wide (East Asian, emoji) characters two. */
export function visibleWidth(text: string): number {
  // Already stripped: string-width need not look for escapes again.
  return stringWidth(stripAnsi(text), { countAnsiEscapeCodes: true });
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
};

export type Align = 'left' | 'right';

/**
 * An aligned, borderless table (kubectl style): a bold header row, then one line per row.
 * With `maxWidth` (a terminal's width) the widest columns are cut down, cells ending in `…`,
 * until a line fits; headers and the first column (the id people copy) are never cut. Without
 * it (piped output) every cell is in full.
 */
export function table(
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
  c: Colors,
  align: readonly Align[] = [],
  maxWidth: number | null = null,
): string {
  const cells = rows.map((row) => row.map((cell) => terminalText(String(cell), c)));
  const widths = maxWidth !== null ? fitWidths(head, cells, maxWidth) : null;
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    chars: BORDERLESS,
    // Never let cli-table3 colour anything itself: it would ignore our TTY decision.
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: head.map((_, i) => align[i] ?? 'left'),
  });
  for (const row of cells) {
    t.push(widths ? row.map((cell, i) => truncateAnsi(cell, widths[i] ?? Number.POSITIVE_INFINITY)) : row);
  }
  return trimLines(t.toString());
}

const GAP = BORDERLESS.middle.length;
/** Columns are not cut below this (or their header's width). */
const MIN_COLUMN = 6;

/**
 * Column widths that fit `maxWidth`: each column's natural width, then the widest column
 * shrunk one character at a time until the line fits or every column is at its minimum
 * (its header, at least MIN_COLUMN; the first column whole): a narrow terminal then wraps.
 */
export function fitWidths(
  head: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  maxWidth: number,
): number[] {
  const widths = head.map((h, i) =>
    Math.max(visibleWidth(h), ...rows.map((row) => visibleWidth(row[i] ?? ''))),
  );
  // The first column is the id (or time) a row is known by: never cut.
  const minimum = head.map((h, i) =>
    i === 0 ? (widths[i] ?? 0) : Math.min(widths[i] ?? 0, Math.max(visibleWidth(h), MIN_COLUMN)),
  );
  const total = (): number => widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, widths.length - 1);
  while (total() > maxWidth) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const slack = (widths[i] ?? 0) - (minimum[i] ?? 0);
      if (slack > 0 && (widest < 0 || (widths[i] ?? 0) > (widths[widest] ?? 0))) widest = i;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return widths;
}

const ESC = '\u001b';
const RESET = '\u001b[0m';
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Text cut into escape sequences (what stripVTControlCharacters removes) and the visible text
 * between them, in order.
 */
function pieces(text: string): Array<{ escape: boolean; text: string }> {
  const [head = '', ...rest] = text.split(ESC);
  const out = head !== '' ? [{ escape: false, text: head }] : [];
  for (const chunk of rest) {
    const piece = ESC + chunk;
    const visible = stripAnsi(piece);
    // The piece's one escape stands at its start; anything else is shown as it is.
    const length = piece.endsWith(visible) ? piece.length - visible.length : 0;
    if (length > 0) out.push({ escape: true, text: piece.slice(0, length) });
    if (length < piece.length) out.push({ escape: false, text: piece.slice(length) });
  }
  return out;
}

/**
 * Cuts text to `max` columns, the last one `…`, keeping its ANSI codes (and resetting them after
 * the cut, so a colour never leaks into the next cell). A wide character that would not fit is
 * left out whole.
 */
export function truncateAnsi(text: string, max: number): string {
  if (visibleWidth(text) <= max) return text;
  if (max <= 0) return '';
  let out = '';
  let width = 0;
  let styled = false;
  cut: for (const piece of pieces(text)) {
    if (piece.escape) {
      out += piece.text;
      styled = true;
      continue;
    }
    for (const { segment } of graphemes.segment(piece.text)) {
      const next = stringWidth(segment, { countAnsiEscapeCodes: true });
      if (width + next > max - 1) break cut;
      out += segment;
      width += next;
    }
  }
  return `${out}…${styled ? RESET : ''}`;
}

/**
 * A table printed a line at a time, for output that follows something live: laid out like
 * `table` (a bold header, columns three spaces apart, no trailing spaces), each column as wide
 * as its header, its `minWidths` entry and the rows given to `fit`. A later row that does not
 * fit widens its columns from that line on; lines already printed stay as they are.
 */
export class LiveTable {
  private readonly widths: number[];

  constructor(
    private readonly head: readonly string[],
    private readonly c: Colors,
    private readonly align: readonly Align[] = [],
    minWidths: readonly number[] = [],
  ) {
    this.widths = head.map((h, i) => Math.max(visibleWidth(h), minWidths[i] ?? 0));
  }

  /** Widens the columns for rows about to be printed (before the header, to align a first batch). */
  fit(rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
    for (const row of rows) this.widen(row);
  }

  header(): string {
    return this.render(this.head.map((h) => this.c.bold(h)));
  }

  line(row: ReadonlyArray<string | number>): string {
    this.widen(row);
    return this.render(row);
  }

  private widen(row: ReadonlyArray<string | number>): void {
    row.forEach((cell, i) => {
      if (i < this.widths.length) {
        this.widths[i] = Math.max(this.widths[i] ?? 0, visibleWidth(terminalText(String(cell), this.c)));
      }
    });
  }

  private render(row: ReadonlyArray<string | number>): string {
    const cells = this.widths.map((width, i) => {
      const text = terminalText(String(row[i] ?? ''), this.c);
      const padding = ' '.repeat(Math.max(0, width - visibleWidth(text)));
      return this.align[i] === 'right' ? padding + text : text + padding;
    });
    return cells.join(BORDERLESS.middle).replace(/\s+$/, '');
  }
}

/** Two aligned columns: a dim label, then its value. */
export function keyValues(pairs: ReadonlyArray<readonly [string, string]>, c: Colors): string {
  const t = new Table({
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const [key, value] of pairs) t.push([c.dim(key), terminalLines(value, c)]);
  return trimLines(t.toString());
}

function trimLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .join('\n');
}

/** Text on one line: runs of whitespace (newlines too) become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Shortens text to one line of at most `max` characters. */
export function truncate(text: string, max: number): string {
  const line = oneLine(text);
  return line.length > max ? `${line.slice(0, Math.max(0, max - 1))}…` : line;
}
