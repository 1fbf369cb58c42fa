import {
  DELIVERY_STATES,
  type DeliveryState,
  formatDuration,
  type Gate,
  type RolloutStatus,
} from '@camfleet/contracts';
import { gateText as describeGate, formatAgo, formatPercent, progressOf } from '@camfleet/present';
import Table from 'cli-table3';
import picocolors from 'picocolors';
import type { OutStream } from './io.js';

export type Colors = ReturnType<typeof picocolors.createColors>;

/**
 * Colours only for a terminal: a non-TTY stream (pipe, file, test capture) never gets
 * ANSI codes, and NO_COLOR (https://no-color.org: set and not empty), TERM=dumb and
 * --no-color (`disabled`) turn them off on a terminal too. The decision is ours, not
 * picocolors' (which looks at the process's own env and argv): colours are created with it.
 */
export function colorsEnabled(
  stream: OutStream,
  env: Readonly<Record<string, string | undefined>>,
  disabled = false,
): boolean {
  if (disabled || stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

export function colorsFor(
  stream: OutStream,
  env: Readonly<Record<string, string | undefined>>,
  disabled = false,
): Colors {
  return picocolors.createColors(colorsEnabled(stream, env, disabled));
}

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

const pad = (n: number): string => String(n).padStart(2, '0');

/** Epoch ms → `2025-03-01 14:05:09Z` (UTC, second precision). */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}Z`;
}

/** `12:30:00Z` for a time later today (UTC), the full timestamp otherwise. */
export function formatTimeOfDay(ms: number, now: number): string {
  const full = formatTimestamp(ms);
  return full.slice(0, 10) === formatTimestamp(now).slice(0, 10) ? full.slice(11) : full;
}

/** `in 9m`, `in 45s`; `now` once the moment has come. */
export function formatIn(ms: number, now: number): string {
  const delta = ms - now;
  if (delta < 1000) return 'now';
  return `in ${formatDuration(Math.round(delta / 1000) * 1000)}`;
}

/** Timestamp with its age: `2025-03-01 14:05:09Z (3m ago)`. */
export function formatWhen(ms: number, now: number): string {
  return `${formatTimestamp(ms)} (${formatAgo(ms, now)})`;
}

// Until the split of this file: what moved to @camfleet/present, under the names it had here.
export { formatBytes, openOf, totalOf } from '@camfleet/present';
export { formatAgo, formatDuration, formatPercent, progressOf };

export function colorState(state: DeliveryState, c: Colors): string {
  switch (state) {
    case 'succeeded':
      return c.green(state);
    case 'failed':
      return c.red(state);
    case 'canceled':
      return c.gray(state);
    case 'queued':
      return c.dim(state);
    default:
      return c.cyan(state);
  }
}

export function colorRolloutStatus(status: RolloutStatus['status'], c: Colors): string {
  switch (status) {
    case 'completed':
      return c.green(status);
    case 'canceled':
      return c.gray(status);
    case 'aborted':
      return c.red(status);
    case 'paused':
      return c.yellow(status);
    default:
      return c.cyan(status);
  }
}

/** `2/3` (the newest open wave, counted from 1, over the number of waves). */
export function waveLabel(status: Pick<RolloutStatus, 'wave' | 'waves'>): string {
  return `${status.wave + 1}/${status.waves.length}`;
}

/** What holds a rollout back, for people: `waiting for wave 1 to reach 95% success (80% now)`. */
export function gateText(gate: Gate, rolloutId: string, now: number): string {
  return describeGate(gate, {
    share: (share) => formatPercent(share),
    advanceHint: `fleet rollout advance ${rolloutId}`,
    soak: (soak) => `soaking until ${formatTimeOfDay(soak.until, now)} (${formatIn(soak.until, now)})`,
  });
}

/** Who set a paused/canceled/aborted status and why: `by alice: maintenance window`; null otherwise. */
export function statusCause(status: Pick<RolloutStatus, 'status' | 'reason' | 'statusBy'>): string | null {
  if (status.status === 'active' || status.status === 'completed') return null;
  const reason = status.reason?.trim() ? status.reason.trim() : null;
  if (status.statusBy && reason) return `by ${status.statusBy}: ${reason}`;
  if (status.statusBy) return `by ${status.statusBy}`;
  return reason;
}

/**
 * One line for a rollout: `ro_x paused, wave 1/3: 3/10 finished, 3 succeeded, 7 in progress (by bob: why)`.
 * The wave is left out of single-wave rollouts.
 */
export function statusLine(status: RolloutStatus, c: Colors): string {
  const wave = status.waves.length > 1 ? `, wave ${waveLabel(status)}` : '';
  const cause = statusCause(status);
  return `${status.id} ${colorRolloutStatus(status.status, c)}${wave}: ${statusSummary(status)}${
    cause ? ` (${cause})` : ''
  }`;
}

/** `queued 1  offered 0  …  canceled 0`, with each state coloured. */
export function countsLine(status: RolloutStatus, c: Colors, separator = '  '): string {
  return DELIVERY_STATES.map((s) => `${colorState(s, c)} ${status.counts[s]}`).join(separator);
}

/** `pat_x (cam-fw 1.2.3)` */
export function patchLabel(patchId: string, patch: { name: string; version: string } | null): string {
  return patch ? `${patchId} (${patch.name} ${patch.version})` : patchId;
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

/** `7/10 finished, 6 succeeded, 1 failed, 3 open` */
export function statusSummary(status: RolloutStatus): string {
  const p = progressOf(status);
  const parts = [`${p.finished}/${p.targeted} finished`, `${status.counts.succeeded} succeeded`];
  if (status.counts.failed > 0) parts.push(`${status.counts.failed} failed`);
  if (status.counts.canceled > 0) parts.push(`${status.counts.canceled} canceled`);
  if (p.open > 0) parts.push(`${p.open} in progress`);
  return parts.join(', ');
}
