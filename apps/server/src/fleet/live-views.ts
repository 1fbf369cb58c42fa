import { Wakeable } from './wakeable.js';

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * Reads `read()` every `intervalMs` and yields it when its fingerprint changed (the first read
 * always): subscribers get pushes on change, and one read serves each tick, not each client poll.
 */
export async function* whenChanged<T>(
  read: () => Promise<T>,
  fingerprint: (value: T) => string,
  intervalMs: number,
  signal: AbortSignal,
): AsyncGenerator<T> {
  let last: string | null = null;
  while (!signal.aborted) {
    const value = await read();
    const current = fingerprint(value);
    if (current !== last) {
      last = current;
      yield value;
    }
    await sleep(intervalMs, signal);
  }
}

/** What a subscriber has not taken yet: only the newest value matters (or the loop's error). */
type Pending = { value: unknown } | { error: unknown };

interface Subscriber {
  pending: Pending | null;
  consumer: Wakeable;
}

interface Loop {
  latest: Pending | null;
  subscribers: Set<Subscriber>;
  stop: AbortController;
}

/**
 * Watch loops shared by every subscriber of this pod to the same thing: ten dashboards on the
 * fleet overview cost one read per tick, not ten. A loop starts with its first subscriber (who
 * gets the last value at once when it is already running) and stops with its last.
 */
export class SharedWatches {
  private readonly loops = new Map<string, Loop>();

  async *watch<T>(
    key: string,
    start: (signal: AbortSignal) => AsyncIterable<T>,
    signal: AbortSignal,
  ): AsyncGenerator<T> {
    const loop = this.loops.get(key) ?? this.open(key, start);
    const me: Subscriber = { pending: loop.latest, consumer: new Wakeable() };
    loop.subscribers.add(me);
    const take = () => {
      const next = me.pending;
      me.pending = null;
      return next;
    };
    try {
      for await (const next of me.consumer.drain(take, signal)) {
        if ('error' in next) throw next.error;
        yield next.value as T;
      }
    } finally {
      loop.subscribers.delete(me);
      if (loop.subscribers.size === 0) {
        loop.stop.abort();
        if (this.loops.get(key) === loop) this.loops.delete(key);
      }
    }
  }

  /** Number of loops running (tests). */
  get size(): number {
    return this.loops.size;
  }

  private open<T>(key: string, start: (signal: AbortSignal) => AsyncIterable<T>): Loop {
    const loop: Loop = { latest: null, subscribers: new Set(), stop: new AbortController() };
    this.loops.set(key, loop);
    const publish = (pending: Pending) => {
      loop.latest = pending;
      for (const subscriber of loop.subscribers) {
        subscriber.pending = pending;
        subscriber.consumer.wake();
      }
    };
    void (async () => {
      try {
        for await (const value of start(loop.stop.signal)) publish({ value });
      } catch (error) {
        // A failed read ends the loop for everyone watching; the next subscriber starts a new one.
        if (this.loops.get(key) === loop) this.loops.delete(key);
        if (!loop.stop.signal.aborted) publish({ error });
      }
    })();
    return loop;
  }
}
