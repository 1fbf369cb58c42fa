import { describe, expect, it } from 'vitest';
import { Wakeable } from './wakeable.js';

/** A producer's queue drained through a Wakeable: take() hands out everything pending at once. */
function queue<T>() {
  const wakeable = new Wakeable();
  let items: T[] = [];
  let failure: Error | null = null;
  return {
    wakeable,
    push(...more: T[]) {
      items.push(...more);
      wakeable.wake();
    },
    fail(error: Error) {
      failure = error;
      wakeable.wake();
    },
    take: (): T[] | null => {
      if (failure) throw failure;
      if (items.length === 0) return null;
      const taken = items;
      items = [];
      return taken;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Wakeable.drain', () => {
  it('hands out what is pending, sleeps, and takes again when woken', async () => {
    const q = queue<number>();
    const stop = new AbortController();
    const drain = q.wakeable.drain(q.take, stop.signal);
    q.push(1, 2);
    expect(await drain.next()).toEqual({ value: [1, 2], done: false });
    const next = drain.next();
    let settled = false;
    void next.then(() => {
      settled = true;
    });
    await tick();
    expect(settled).toBe(false);
    // Pushes of one turn come together, as when a generator resumed.
    q.push(3);
    q.push(4);
    expect(await next).toEqual({ value: [3, 4], done: false });
  });

  it('ends when the signal aborts, asleep or not, and drops what was pending', async () => {
    const q = queue<number>();
    const stop = new AbortController();
    const drain = q.wakeable.drain(q.take, stop.signal);
    const next = drain.next();
    stop.abort();
    expect(await next).toEqual({ value: undefined, done: true });
    q.push(1);
    expect(await drain.next()).toEqual({ value: undefined, done: true });

    const aborted = new AbortController();
    aborted.abort();
    const q2 = queue<number>();
    q2.push(1);
    expect(await q2.wakeable.drain(q2.take, aborted.signal).next()).toEqual({
      value: undefined,
      done: true,
    });
  });

  it('throws what take() throws, then is done', async () => {
    const q = queue<number>();
    const drain = q.wakeable.drain(q.take, new AbortController().signal);
    const next = drain.next();
    q.fail(new Error('too slow'));
    await expect(next).rejects.toThrow('too slow');
    expect(await drain.next()).toEqual({ value: undefined, done: true });

    const q2 = queue<number>();
    q2.fail(new Error('at once'));
    const drain2 = q2.wakeable.drain(q2.take, new AbortController().signal);
    await expect(drain2.next()).rejects.toThrow('at once');
    expect(await drain2.next()).toEqual({ value: undefined, done: true });
  });

  it('ends a waiting next() on return(), and removes its abort listener', async () => {
    const q = queue<number>();
    const stop = new AbortController();
    const added: string[] = [];
    const removed: string[] = [];
    const signal = stop.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, listener: Parameters<AbortSignal['addEventListener']>[1]) => {
      added.push(type);
      add(type, listener);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((
      type: string,
      listener: Parameters<AbortSignal['addEventListener']>[1],
    ) => {
      removed.push(type);
      remove(type, listener);
    }) as typeof signal.removeEventListener;
    const drain = q.wakeable.drain(q.take, signal);
    // Not started: return() adds and removes nothing (a generator's body never ran).
    const unused = q.wakeable.drain(q.take, signal);
    expect(await unused.return(undefined)).toEqual({ value: undefined, done: true });
    expect(added).toEqual([]);
    const next = drain.next();
    expect(added).toEqual(['abort']);
    expect(await drain.return(undefined)).toEqual({ value: undefined, done: true });
    expect(await next).toEqual({ value: undefined, done: true });
    expect(removed).toEqual(['abort']);
    q.push(1);
    expect(await drain.next()).toEqual({ value: undefined, done: true });
  });

  it('serves for await, and a second next() waits behind the first', async () => {
    const q = queue<string>();
    const stop = new AbortController();
    const drain = q.wakeable.drain(q.take, stop.signal);
    const first = drain.next();
    const second = drain.next();
    q.push('a');
    expect(await first).toEqual({ value: ['a'], done: false });
    q.push('b');
    expect(await second).toEqual({ value: ['b'], done: false });
    const seen: string[][] = [];
    const loop = (async () => {
      for await (const batch of drain) {
        seen.push(batch);
        if (seen.length === 2) stop.abort();
      }
    })();
    q.push('c');
    await tick();
    q.push('d');
    await loop;
    expect(seen).toEqual([['c'], ['d']]);
  });
});
