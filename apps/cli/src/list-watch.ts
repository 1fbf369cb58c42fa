import { CliError, describeError, EXIT, exitCodeOf, UsageError } from './errors.js';
import type { Session } from './session.js';
import { terminalLines, terminalText, truncateAnsi } from './table.js';
import { formatTimestamp } from './time.js';
import { durationOption } from './validate.js';

/** Default of `--interval`: how often the server looks for changes while a `--watch` follows. */
export const WATCH_INTERVAL = '2s';

/** `--interval` of a --watch: how often the server looks for changes, in milliseconds (250ms-1m). */
export function watchIntervalOf(text: string): number {
  const ms = durationOption('--interval', text) ?? 2_000;
  if (ms < 250 || ms > 60_000) throw new UsageError('--interval must be between 250ms and 1m');
  return ms;
}

/** What a subscription hands its observer. */
export interface Pushes<T> {
  onData(value: T): void;
  onError(error: unknown): void;
  onComplete(): void;
}

export interface ListWatch<T> {
  /** The command as typed, for the title line: `fleet rollout list`. */
  title: string;
  /** How often the server looks for changes (shown in the title). */
  intervalMs: number;
  /** The view now (a query: a server that cannot be reached, or refuses, ends the watch at once). */
  fetch: () => Promise<T>;
  /** The server's pushes of the view whenever it changed (a subscription); returns its unsubscribe. */
  follow: (pushes: Pushes<T>) => () => void;
  /** The human view of one result (a table, or a short line when it is empty). */
  render: (data: T) => string;
}

/**
 * For a view the server has no subscription of: reads it again each time `changes` pushes
 * something. One read at a time; a change during a read is read once more after it.
 */
export function readOnChange<T>(read: () => Promise<T>, pushes: Pushes<T>): () => void {
  let reading = false;
  let changedMeanwhile = false;
  const next = (): void => {
    if (reading) {
      changedMeanwhile = true;
      return;
    }
    reading = true;
    read()
      .then(pushes.onData, pushes.onError)
      .finally(() => {
        reading = false;
        if (changedMeanwhile) {
          changedMeanwhile = false;
          next();
        }
      });
  };
  return next;
}

/** After a subscription failed because the server could not be reached: subscribe again after this. */
const RESUBSCRIBE_MS = 1_000;

const HIDE_CURSOR = '\u001b[?25l';
const SHOW_CURSOR = '\u001b[?25h';
/** Up `n` lines to column 1, then clear to the end of the screen. */
const rewind = (lines: number): string => (lines > 0 ? `\u001b[${lines}F\u001b[J` : '');

/**
 * `--watch`, until Ctrl-C (exit 130): the view now, then each change the server pushes (its
 * subscription: nothing is polled, and nothing is sent while nothing changes).
 * - on a terminal, the view is redrawn in place (a title with the time, then the table), the cursor
 *   hidden meanwhile;
 * - piped, a new table is printed only when the data changed, tables separated by a blank line;
 * - with --json, one compact JSON document per change (NDJSON).
 * A failed first fetch ends the watch with its exit code; later, a server that cannot be reached
 * is subscribed to again (said on stderr, or in the view), anything else ends the watch.
 */
export async function watchList<T>(s: Session, watch: ListWatch<T>): Promise<never> {
  const { io } = s;
  const tty = !s.json && io.stdout.isTTY === true;
  let lastKey: string | null = null;
  let last: T | null = null;
  let drawnLines = 0;
  let cursorHidden = false;
  const restoreCursor = (): void => {
    if (!cursorHidden) return;
    cursorHidden = false;
    io.stdout.write(SHOW_CURSOR);
  };

  const draw = (body: string, problem: string | null): void => {
    const width = s.width ?? 80;
    const title = `${s.c.dim(`Live (checked every ${watch.intervalMs / 1000}s): ${watch.title}`)}   ${s.c.dim(
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

  let stopped = false;
  const show = (value: T | null, problem: string | null): void => {
    if (stopped) return;
    if (value !== null) last = value;
    if (tty) {
      if (last !== null) draw(watch.render(last), problem);
    } else if (problem !== null) {
      io.stderr.write(`${terminalText(s.ce.dim(`${formatTimestamp(s.now())} ${problem}`), s.ce)}\n`);
    } else if (value !== null) {
      const key = JSON.stringify(value);
      if (key === lastKey) return;
      if (s.json) s.emitJsonLine(value);
      else io.stdout.write(`${lastKey !== null ? '\n' : ''}${terminalLines(watch.render(value), s.c)}\n`);
      lastKey = key;
    }
  };

  const signal = io.signal;
  if (signal?.aborted) throw new CliError(EXIT.INTERRUPTED, 'interrupted');
  show(await watch.fetch(), null);
  let unsubscribe: (() => void) | null = null;
  let retry: NodeJS.Timeout | undefined;
  try {
    return await new Promise<never>((_, reject) => {
      const stop = (error: unknown): void => {
        stopped = true;
        clearTimeout(retry);
        unsubscribe?.();
        unsubscribe = null;
        reject(error);
      };
      const onAbort = (): void => stop(new CliError(EXIT.INTERRUPTED, 'interrupted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const subscribe = (): void => {
        if (signal?.aborted) return;
        unsubscribe = watch.follow({
          onData: (value) => show(value, null),
          onError: (error) => {
            if (exitCodeOf(error) !== EXIT.UNREACHABLE) return stop(error);
            show(null, `${describeError(error, s.url)}; retrying every ${RESUBSCRIBE_MS / 1000}s`);
            again();
          },
          // The server ended it (e.g. the pod is draining): follow again, on whichever pod answers.
          onComplete: () => again(),
        });
      };
      const again = (): void => {
        unsubscribe?.();
        unsubscribe = null;
        clearTimeout(retry);
        retry = setTimeout(subscribe, RESUBSCRIBE_MS);
      };
      subscribe();
    });
  } finally {
    restoreCursor();
  }
}
