import { describe, expect, it } from 'vitest';
import { completePrefix, type StreamEntry } from './event-feed.js';

const entries = (...ids: string[]): StreamEntry[] => ids.map((id) => [id, []]);

describe('completePrefix', () => {
  it('takes everything when no stream filled its read', () => {
    const perStream = [entries('5-0', '9-0'), entries('7-0')];
    expect(completePrefix(perStream, 3)).toEqual(perStream);
  });

  it('cuts every stream at the earliest last entry of a stream that filled its read', () => {
    // Stream 0 may hold more after 4-0 (it returned a full read): stream 1's 6-0 and 8-0 wait.
    const cut = completePrefix([entries('1-0', '2-0', '4-0'), entries('3-0', '4-0', '6-0', '8-0')], 3);
    expect(cut.map((s) => s.map(([id]) => id))).toEqual([
      ['1-0', '2-0', '4-0'],
      ['3-0', '4-0'],
    ]);
  });

  it('orders ids of one millisecond by their sequence', () => {
    const cut = completePrefix([entries('5-1', '5-2'), entries('5-3', '6-0')], 2);
    expect(cut.map((s) => s.map(([id]) => id))).toEqual([['5-1', '5-2'], []]);
  });
});
