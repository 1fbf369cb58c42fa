import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { SharedWatches, whenChanged } from './live-views.js';

/** Takes values from a watch until it has `count`, then stops watching. */
async function take<T>(watch: AsyncGenerator<T>, count: number, stop: AbortController): Promise<T[]> {
  const seen: T[] = [];
  for await (const value of watch) {
    seen.push(value);
    if (seen.length === count) stop.abort();
  }
  return seen;
}

describe('SharedWatches', () => {
  it('serves many subscribers of one key from one read loop, and stops it with the last', async () => {
    const watches = new SharedWatches();
    let reads = 0;
    const start = (signal: AbortSignal) => whenChanged(async () => ++reads, String, 20, signal);
    const stops = [new AbortController(), new AbortController(), new AbortController()];
    const seen = await Promise.all(
      stops.map((stop) => take(watches.watch('k', start, stop.signal), 4, stop)),
    );
    for (const values of seen) expect(values).toHaveLength(4);
    // Three subscribers, four values each: one loop read about four times, not twelve.
    expect(reads).toBeLessThan(8);
    await waitFor(() => watches.size === 0, { what: 'the loop to stop' });
  });

  it('gives a late subscriber the last value at once, and keys apart keep apart', async () => {
    const watches = new SharedWatches();
    const first = new AbortController();
    const a = watches.watch('a', (signal) => whenChanged(async () => 'A', String, 20, signal), first.signal);
    expect((await a.next()).value).toBe('A');
    const late = new AbortController();
    const again = watches.watch('a', () => (async function* () {})(), late.signal);
    expect((await again.next()).value).toBe('A');
    const other = new AbortController();
    const b = watches.watch('b', (signal) => whenChanged(async () => 'B', String, 20, signal), other.signal);
    expect((await b.next()).value).toBe('B');
    for (const stop of [first, late, other]) stop.abort();
    await Promise.all([a.return(undefined), again.return(undefined), b.return(undefined)]);
    expect(watches.size).toBe(0);
  });

  it('hands a failed read to every subscriber', async () => {
    const watches = new SharedWatches();
    const stop = new AbortController();
    const failing = watches.watch(
      'x',
      () =>
        (async function* () {
          yield* [];
          throw new Error('redis gone');
        })(),
      stop.signal,
    );
    await expect(failing.next()).rejects.toThrow('redis gone');
    stop.abort();
  });
});
