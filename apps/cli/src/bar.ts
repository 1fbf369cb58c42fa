import cliProgress from 'cli-progress';
import type { OutStream } from './io.js';

/** camfleet's progress bar style (cli-progress): 30 cells, redrawn at most 10 times a second. */
export function terminalBar(
  stream: OutStream,
  format: string,
  options: Pick<cliProgress.Options, 'emptyOnZero'> = {},
): cliProgress.SingleBar {
  return new cliProgress.SingleBar({
    // cli-progress writes through readline's cursor helpers, which only need write().
    stream: stream as NodeJS.WritableStream,
    format,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    fps: 10,
    barsize: 30,
    ...options,
  });
}
