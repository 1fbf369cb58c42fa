import { describe, expect, it } from 'vitest';
import { TickBatch } from './tick-batch.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TickBatch', () => {
  it('hands over what was added in one turn once, without repeats, and starts afresh after', async () => {
    const flushed: string[][] = [];
    const batch = new TickBatch<string>((items) => flushed.push(items));
    batch.add('a');
    batch.add('b');
    batch.add('a');
    expect(flushed).toEqual([]);
    await nextTurn();
    expect(flushed).toEqual([['a', 'b']]);
    batch.add('c');
    await nextTurn();
    expect(flushed).toEqual([['a', 'b'], ['c']]);
  });
});
