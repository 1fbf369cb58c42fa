import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Holds an install between its `installing` report and the apply until something outside the
 * device says go. Tests use it to keep installs running for as long as they need (a cancel must
 * arrive mid-install by construction, not because the install happened to be slow enough).
 * Rejects with the signal's reason once the attempt is canceled or abandoned.
 */
export type InstallHold = (signal: AbortSignal) => Promise<void>;

/** How often a held install looks for its release file. */
const RELEASE_POLL_MS = 50;

/** A hold that ends when `released` settles, or fails at once when `signal` aborts. */
function holdUntil(released: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    void released.then(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    });
  });
}

/** Released once `path` exists (`--hold-installs`). One poll loop serves every device of the process. */
export function releasedByFile(path: string): InstallHold {
  let released: Promise<void> | null = null;
  const poll = async () => {
    for (;;) {
      const exists = await access(path).then(
        () => true,
        () => false,
      );
      if (exists) return;
      await sleep(RELEASE_POLL_MS);
    }
  };
  return (signal) => {
    released ??= poll();
    return holdUntil(released, signal);
  };
}

/** Released when the caller calls `release()` (in-process tests). */
export function releasedByCall(): { hold: InstallHold; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { hold: (signal) => holdUntil(released, signal), release };
}
