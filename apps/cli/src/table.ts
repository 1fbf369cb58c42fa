import Table from 'cli-table3';
import type { Colors } from './colors.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
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
  const cells = rows.map((row) => row.map((cell) => String(cell)));
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

/**
 * Cuts text to `max` visible characters, the last one `…`, keeping its ANSI codes (and
 * resetting them after the cut, so a colour never leaks into the next cell).
 */
export function truncateAnsi(text: string, max: number): string {
  if (visibleWidth(text) <= max) return text;
  if (max <= 0) return '';
  let out = '';
  let visible = 0;
  let styled = false;
  for (let i = 0; i < text.length; ) {
    ANSI_AT.lastIndex = i;
    const code = ANSI_AT.exec(text);
    if (code !== null) {
      out += code[0];
      styled = true;
      i += code[0].length;
      continue;
    }
    if (visible === max - 1) break;
    const char = String.fromCodePoint(text.codePointAt(i) ?? 0);
    out += char;
    visible++;
    i += char.length;
  }
  return `${out}…${styled ? '\u001b[0m' : ''}`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
const ANSI_AT = /\u001b\[[0-9;?]*[A-Za-z]/y;

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
      if (i < this.widths.length) this.widths[i] = Math.max(this.widths[i] ?? 0, visibleWidth(String(cell)));
    });
  }

  private render(row: ReadonlyArray<string | number>): string {
    const cells = this.widths.map((width, i) => {
      const text = String(row[i] ?? '');
      const padding = ' '.repeat(Math.max(0, width - visibleWidth(text)));
      return this.align[i] === 'right' ? padding + text : text + padding;
    });
    return cells.join(BORDERLESS.middle).replace(/\s+$/, '');
  }
}

function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

/** Two aligned columns: a dim label, then its value. */
export function keyValues(pairs: ReadonlyArray<readonly [string, string]>, c: Colors): string {
  const t = new Table({
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const [key, value] of pairs) t.push([c.dim(key), value]);
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
