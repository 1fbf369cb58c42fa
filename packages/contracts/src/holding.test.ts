import { describe, expect, it } from 'vitest';
import type { ConnectionRef } from './services.js';
import { holdingSubscription, holdingSubscriptionOf } from './trpc.js';

const connection = (max = 1): ConnectionRef => ({
  connectionId: 'c1',
  subscriptions: { open: 0, max },
});

/** A source that records its life: made, values handed out, returned. */
function source(values: number[], log: string[], fail?: Error) {
  return (_signal: AbortSignal): AsyncIterable<number> => {
    log.push('made');
    return {
      [Symbol.asyncIterator]() {
        let i = 0;
        return {
          async next() {
            if (fail && i === values.length) throw fail;
            if (i < values.length) return { value: values[i++] as number, done: false };
            return { value: undefined, done: true };
          },
          async return() {
            log.push('returned');
            return { value: undefined, done: true };
          },
        };
      },
    };
  };
}

describe('holdingSubscription', () => {
  it('holds a place from the first next() until the source ends', async () => {
    const conn = connection();
    const log: string[] = [];
    const sub = holdingSubscription(conn, source([1, 2], log), undefined);
    expect(log).toEqual([]);
    expect(conn.subscriptions.open).toBe(0);
    expect(await sub.next()).toEqual({ value: 1, done: false });
    expect(conn.subscriptions.open).toBe(1);
    expect(await sub.next()).toEqual({ value: 2, done: false });
    expect(await sub.next()).toEqual({ value: undefined, done: true });
    expect(conn.subscriptions.open).toBe(0);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
    expect(log).toEqual(['made']);
  });

  it('refuses past the limit on the first next(), without making the source', async () => {
    const conn = connection(1);
    const log: string[] = [];
    const first = holdingSubscription(conn, source([1], log), undefined);
    await first.next();
    const second = holdingSubscription(conn, source([1], log), undefined);
    await expect(second.next()).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(log).toEqual(['made']);
    expect(conn.subscriptions.open).toBe(1);
    expect(await second.next()).toEqual({ value: undefined, done: true });
  });

  it('gives the place back on return(), after returning the source; and on the source failing', async () => {
    const conn = connection(2);
    const log: string[] = [];
    const sub = holdingSubscription(conn, source([1, 2], log), undefined);
    await sub.next();
    expect(await sub.return(undefined)).toEqual({ value: undefined, done: true });
    expect(log).toEqual(['made', 'returned']);
    expect(conn.subscriptions.open).toBe(0);

    const failing = holdingSubscription(conn, source([], log, new Error('gone')), undefined);
    await expect(failing.next()).rejects.toThrow('gone');
    expect(conn.subscriptions.open).toBe(0);

    // Returned before it started: nothing held, nothing made.
    const unused = holdingSubscription(conn, source([1], log), undefined);
    await unused.return(undefined);
    expect(log).toEqual(['made', 'returned', 'made']);
    expect(conn.subscriptions.open).toBe(0);
  });

  it('maps each value; a map that throws returns the source and gives the place back', async () => {
    const conn = connection();
    const log: string[] = [];
    const sub = holdingSubscriptionOf(conn, source([1, 2], log), undefined, (n) => {
      if (n === 2) throw new Error('bad value');
      return `#${n}`;
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const value of sub) seen.push(value);
      })(),
    ).rejects.toThrow('bad value');
    expect(seen).toEqual(['#1']);
    expect(log).toEqual(['made', 'returned']);
    expect(conn.subscriptions.open).toBe(0);
  });
});
