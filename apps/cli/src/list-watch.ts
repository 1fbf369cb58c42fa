import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, describeError, EXIT, exitCodeOf, UsageError } from './errors.js';
import type { Session } from './session.js';
import { terminalLines, terminalText, truncateAnsi } from './table.js';
import { formatTimestamp } from './time.js';
import { durationOption } from './validate.js';

/** Default refresh period of `--watch`. */
export const WATCH_INTERVAL = '2s';

/** `--interval` of a list command's --watch, in milliseconds (100ms-1h). */
export function watchIntervalOf(text: string): number {
  const ms = durationOption('--interval', text) ?? 2_000;
  if (ms < 100 || ms > 3_600_000) throw new UsageError('--interval must be between 100ms and 1h');
  return ms;
}

export interface ListWatch<T> {
  /** The command as typed, for the title line: `fleet rollout list`. */
  title: string;
  intervalMs: number;
  fetch: () => Promise<T>;
  /** The human view of one result (a table, or a short line when it is empty). */
  render: (data: T) => string;
}

const HIDE_CURSOR = '\u001b[?25l';
const SHOW_CURSOR = '\u001b[?25h';
/** Up `n` lines to column 1, then clear to the end of the screen. */
const rewind = (lines: number): string => (lines > 0 ? `\u001b[${lines}F\u001b[J` : '');

/**
 * `--watch` for a list command, until Ctrl-C (exit 130):
 * - on a terminal, the view is redrawn in place every interval (a title with the time, then the
 *   table), the cursor hidden meanwhile;
 * - piped, a new table is printed only when the data changed, tables separated by a blank line;
 * - with --json, one compact JSON document per change (NDJSON).
 * A failed first fetch ends the watch with its exit code; later, a server that cannot be reached
 * is retried each interval (said on stderr, or in the view), anything else ends the watch.
 */
export async function watchList<T>(s: Session, watch: ListWatch<T>): Promise<never> {
  const { io } = s;
  const signal = io.signal;
  const tty = !s.json && io.stdout.isTTY === true;
  let lastKey: string | null = null;
  let drawnLines = 0;
  let cursorHidden = false;
  const restoreCursor = (): void => {
    if (!cursorHidden) return;
    cursorHidden = false;
    io.stdout.write(SHOW_CURSOR);
  };
  signal?.addEventListener('abort', restoreCursor, { once: true });

  const draw = (body: string, problem: string | null): void => {
    const width = s.width ?? 80;
    const title = `${s.c.dim(`Every ${watch.intervalMs / 1000}s: ${watch.title}`)}   ${s.c.dim(
      formatTimestamp(s.now()),
    )}`;
    const lines = [title, ...(problem !== null ? [s.c.red(problem)] : []), '', ...body.split('\n')].map(
      (line) => truncateAnsi(terminalText(line, s.c), width),
    );
    if (!cursorHidden) {
      cursorHidden = true;
      io.stdout.write(HIDE_CURSOR);
    }
    io.stdout.write(`${rewind(drawnLines)}${lines.join('\n')}\n`);
    drawnLines = lines.length;
  };

  try {
    let first = true;
    let last: T | null = null;
    for (;;) {
      if (signal?.aborted) throw new CliError(EXIT.INTERRUPTED, 'interrupted');
      let problem: string | null = null;
      try {
        last = await watch.fetch();
      } catch (error) {
        if (first || exitCodeOf(error) !== EXIT.UNREACHABLE) throw error;
        problem = `${describeError(error, s.url)}; retrying every ${watch.intervalMs / 1000}s`;
      }
      first = false;
      if (tty) {
        if (last !== null) draw(watch.render(last), problem);
      } else if (problem !== null) {
        io.stderr.write(`${terminalText(s.ce.dim(`${formatTimestamp(s.now())} ${problem}`), s.ce)}\n`);
      } else if (last !== null) {
        const key = JSON.stringify(last);
        if (key !== lastKey) {
          if (s.json) s.emitJsonLine(last);
          else io.stdout.write(`${lastKey !== null ? '\n' : ''}${terminalLines(watch.render(last), s.c)}\n`);
          lastKey = key;
        }
      }
      try {
        await sleep(watch.intervalMs, undefined, signal ? { signal } : {});
      } catch {
        throw new CliError(EXIT.INTERRUPTED, 'interrupted');
      }
    }
  } finally {
    signal?.removeEventListener('abort', restoreCursor);
    restoreCursor();
  }
}
