import { describe, expect, it } from 'vitest';
import { addCounts, emptyCounts, HISTORY_SHOWN, historyOf } from './records.js';

describe('addCounts', () => {
  it('counts a state as what entered it minus what left it, per wave', () => {
    const totals = emptyCounts();
    addCounts(
      totals,
      {
        'w0:>queued': '5',
        'w0:queued>offered': '4',
        'w0:offered>succeeded': '2',
        'w0:offered>queued': '1',
        'w0:queued>': '1',
        // another wave's fields are not this wave's
        'w10:>queued': '7',
        'w0:windowed': '3',
        timeouts: '9',
      },
      'w0:',
    );
    expect(totals).toMatchObject({ queued: 1, offered: 1, succeeded: 2, failed: 0 });
  });

  it('adds the per-state fields earlier versions kept, so counts written before an upgrade still count', () => {
    const totals = emptyCounts();
    addCounts(totals, { 'w1:queued': '3', 'w1:offered': '1', 'w1:queued>offered': '2' }, 'w1:');
    expect(totals).toMatchObject({ queued: 1, offered: 3 });
  });
});

describe('historyOf', () => {
  it('merges the deliveries’ entries and the legacy list, newest first, bounded', () => {
    const deliveries: Record<string, string>[] = [
      { rid: 'r1', hn: '2', h0: '1|0||queued|', h1: '3|1|queued|offered|' },
      { rid: 'r2', hn: '1', h0: '2|1|offered|queued|timed out | no answer' },
      { rid: 'r3' },
    ];
    const legacy = [
      JSON.stringify({ at: 4, rolloutId: 'r0', attempt: 1, from: 'offered', to: 'succeeded', error: null }),
    ];
    expect(historyOf(deliveries, legacy)).toEqual([
      { at: 4, rolloutId: 'r0', attempt: 1, from: 'offered', to: 'succeeded', error: null },
      { at: 3, rolloutId: 'r1', attempt: 1, from: 'queued', to: 'offered', error: null },
      { at: 2, rolloutId: 'r2', attempt: 1, from: 'offered', to: 'queued', error: 'timed out | no answer' },
      { at: 1, rolloutId: 'r1', attempt: 0, from: null, to: 'queued', error: null },
    ]);
  });

  it('reads a delivery’s entries written round its ring of fields, newest first', () => {
    const record: Record<string, string> = { rid: 'r1', hn: String(HISTORY_SHOWN + 30) };
    for (let i = 1; i <= HISTORY_SHOWN + 30; i++)
      record[`h${(i - 1) % HISTORY_SHOWN}`] = `${i}|1|queued|offered|`;
    const history = historyOf([record], []);
    expect(history).toHaveLength(HISTORY_SHOWN);
    expect(history[0]?.at).toBe(HISTORY_SHOWN + 30);
    expect(history.at(-1)?.at).toBe(31);
  });
});
