import type { DeliveryState } from '@camfleet/contracts';
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
