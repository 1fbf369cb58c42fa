import { ClosingIterator, iteratorDone } from '@camfleet/contracts';

/**
 * A consumer that sleeps until a producer wakes it: the subscriptions of this pod (a device's
 * offers, a shared live view, an event follower) hand out what is pending, then wait for more.
 */
export class Wakeable {
  /** The drain asleep on this, if any. */
  private sleeper: Drain<unknown> | null = null;

  /** Something new is pending: the consumer, if asleep, takes it. */
  wake(): void {
    this.sleeper?.woken();
  }

  /**
   * Yields what `take()` returns until it returns null, then sleeps until woken; ends once the
   * signal aborts (which wakes it too). An async generator's behaviour in one plain iterator: it
   * starts on the first `next()`, a `take()` that throws ends it with that error, and a woken drain
   * takes in a microtask (as a generator resumed), so a producer's pushes in one turn come together.
   */
  drain<T>(take: () => T | null, signal: AbortSignal): AsyncGenerator<T> {
    return new Drain(this, take, signal);
  }

  /** @internal */
  sleep(drain: Drain<unknown> | null): void {
    this.sleeper = drain;
  }
}

/**
 * Wakeable.drain's iterator: one object and one promise per wait, where an async generator per
 * subscription cost a resumption, its promises and an abort closure per event.
 */
class Drain<T> extends ClosingIterator<T> {
  private state: 'fresh' | 'running' | 'done' = 'fresh';
  /** The pending `next()` while asleep, and how to settle it. */
  private waiting: Promise<IteratorResult<T, void>> | null = null;
  private resolve: ((result: IteratorResult<T, void>) => void) | null = null;
  private reject: ((cause: unknown) => void) | null = null;
  private scheduled = false;
  /** Takes in a microtask after a wake-up (one closure per drain, none per event). */
  private readonly resume = () => {
    this.scheduled = false;
    const resolve = this.resolve;
    const reject = this.reject;
    if (!resolve || !reject) return;
    let result: IteratorResult<T, void> | null;
    try {
      result = this.step();
    } catch (cause) {
      this.awake();
      reject(cause);
      return;
    }
    if (result === null) return;
    this.awake();
    resolve(result);
  };

  constructor(
    private readonly wakeable: Wakeable,
    private readonly take: () => T | null,
    private readonly signal: AbortSignal,
  ) {
    super();
  }

  next(): Promise<IteratorResult<T, void>> {
    if (this.state === 'done') return Promise.resolve(iteratorDone());
    // A second next() while one waits (the consumers here never do that) runs after it, as a generator's.
    if (this.waiting)
      return this.waiting.then(
        () => this.next(),
        () => this.next(),
      );
    if (this.state === 'fresh') {
      this.state = 'running';
      this.signal.addEventListener('abort', this);
    }
    let result: IteratorResult<T, void> | null;
    try {
      result = this.step();
    } catch (cause) {
      return Promise.reject(cause);
    }
    if (result) return Promise.resolve(result);
    this.waiting = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.wakeable.sleep(this as Drain<unknown>);
    return this.waiting;
  }

  /** What is pending now: a value, the end (aborted), or null (sleep). Throws what take() throws, ending. */
  private step(): IteratorResult<T, void> | null {
    if (this.signal.aborted) {
      this.finish();
      return iteratorDone();
    }
    let next: T | null;
    try {
      next = this.take();
    } catch (cause) {
      this.finish();
      throw cause;
    }
    return next === null ? null : { value: next, done: false };
  }

  /** The producer woke the wakeable (or the signal aborted): take in a microtask. */
  woken(): void {
    if (!this.resolve || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.resume);
  }

  /** The signal's abort listener (an object listener: no closure per drain). */
  handleEvent(): void {
    this.woken();
  }

  /** No longer asleep: the pending next() is being settled. */
  private awake(): void {
    this.waiting = null;
    this.resolve = null;
    this.reject = null;
    this.wakeable.sleep(null);
  }

  private finish(): void {
    if (this.state === 'running') this.signal.removeEventListener('abort', this);
    this.state = 'done';
  }

  /** Ends the drain; a pending next() ends with it (a generator would wait for a wake-up first). */
  return(): Promise<IteratorResult<T, void>> {
    this.finish();
    const resolve = this.resolve;
    if (resolve) {
      this.awake();
      resolve(iteratorDone());
    }
    return Promise.resolve(iteratorDone());
  }

  override throw(cause: unknown): Promise<IteratorResult<T, void>> {
    void this.return();
    return Promise.reject(cause);
  }
}
