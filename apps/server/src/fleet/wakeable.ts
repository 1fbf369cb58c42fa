/**
 * A consumer that sleeps until a producer wakes it: the subscriptions of this pod (a device's
 * offers, a shared live view, an event follower) hand out what is pending, then wait for more.
 */
export class Wakeable {
  private waiting: (() => void) | null = null;

  /** Something new is pending: the consumer, if asleep, takes it. */
  wake(): void {
    this.waiting?.();
  }

  /**
   * Yields what `take()` returns until it returns null, then sleeps until woken; ends once the
   * signal aborts (which wakes it too).
   */
  async *drain<T>(take: () => T | null, signal: AbortSignal): AsyncGenerator<T> {
    const onAbort = () => this.wake();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = take();
        if (next !== null) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          this.waiting = resolve;
        });
        this.waiting = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
