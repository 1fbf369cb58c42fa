import { describe, expect, it } from 'vitest';
import {
  colorRolloutStatus,
  colorState,
  colorsEnabled,
  colorsFor,
  formatAgo,
  formatBytes,
  formatIn,
  formatPercent,
  formatTimeOfDay,
  formatTimestamp,
  gateText,
  keyValues,
  LiveTable,
  progressOf,
  statusCause,
  statusLine,
  statusSummary,
  stripAnsi,
  table,
  truncate,
  waveLabel,
} from './format.js';
import { captured, hasAnsi, NOW, rolloutFixture, wavedFixture } from './test-helpers.js';

describe('colours', () => {
  it('are off for anything that is not a TTY, whatever the environment says', () => {
    const pipe = captured(false);
    expect(colorsEnabled(pipe, { FORCE_COLOR: '1' })).toBe(false);
    const c = colorsFor(pipe, { FORCE_COLOR: '3' });
    expect(hasAnsi(c.red('x') + c.bold('y') + colorState('failed', c))).toBe(false);
  });

  it('are on for a terminal unless NO_COLOR or TERM=dumb', () => {
    const tty = captured(true);
    expect(colorsEnabled(tty, {})).toBe(true);
    expect(hasAnsi(colorsFor(tty, {}).red('x'))).toBe(true);
    expect(colorsEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorsEnabled(tty, { TERM: 'dumb' })).toBe(false);
  });
});

describe('tables', () => {
  const plain = colorsFor(captured(false), {});

  it('align columns without borders or ANSI codes', () => {
    const text = table(
      ['ID', 'COUNT'],
      [
        ['a', 1],
        ['longer-id', 200],
      ],
      plain,
      ['left', 'right'],
    );
    expect(hasAnsi(text)).toBe(false);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID\s+COUNT$/);
    // Right-aligned numbers end in the same column; no trailing spaces anywhere.
    expect(lines.map((l) => l.length)).toEqual([lines[0]?.length, lines[0]?.length, lines[0]?.length]);
    expect(lines.every((l) => l === l.trimEnd())).toBe(true);
  });

  it('measure coloured cells by their visible width', () => {
    const c = colorsFor(captured(true), {});
    const text = table(
      ['STATE', 'N'],
      [
        [colorState('succeeded', c), 1],
        [colorState('failed', c), 22],
      ],
      c,
    );
    const widths = stripAnsi(text)
      .split('\n')
      .map((l) => l.indexOf(l.trim().split(/\s+/)[1] ?? ''));
    expect(new Set(widths).size).toBe(1);
  });

  it('renders key/value blocks', () => {
    expect(
      keyValues(
        [
          ['Name', 'x'],
          ['Version', '1'],
        ],
        plain,
      ),
    ).toBe('Name      x\nVersion   1');
  });
});

describe('live tables', () => {
  const plain = colorsFor(captured(false), {});
  const head = ['ID', 'STATE', 'N'];
  const align = ['left', 'left', 'right'] as const;
  const rows = [
    ['a', 'queued', 1],
    ['longer-id', 'succeeded', 200],
  ];

  it('lay out the first rows exactly as a table does', () => {
    const live = new LiveTable(head, plain, align);
    live.fit(rows);
    const lines = [live.header(), ...rows.map((row) => live.line(row))];
    expect(lines.join('\n')).toBe(table(head, rows, plain, [...align]));
  });

  it('keep later rows in the same columns, widening only for one that does not fit', () => {
    const live = new LiveTable(head, plain, align, [4, 12]);
    expect(live.header()).toBe('ID     STATE          N');
    expect(live.line(['b', 'failed', 3])).toBe('b      failed         3');
    expect(live.line(['much-longer', 'x', 4])).toBe('much-longer   x              4');
    expect(live.line(['c', 'y', 5])).toBe('c             y              5');
  });

  it('measure coloured cells by their visible width, and colour only the header', () => {
    const c = colorsFor(captured(true), {});
    const live = new LiveTable(head, c, align);
    expect(hasAnsi(live.header())).toBe(true);
    const line = live.line(['a', colorState('failed', c), 1]);
    expect(stripAnsi(line)).toBe('a    failed   1');
  });
});

describe('time and text', () => {
  it('formats timestamps in UTC to the second', () => {
    expect(formatTimestamp(Date.UTC(2025, 2, 1, 4, 5, 9, 999))).toBe('2025-03-01 04:05:09Z');
  });

  it('formats ages', () => {
    const now = 1_000_000_000;
    expect(formatAgo(now, now)).toBe('just now');
    expect(formatAgo(now - 45_000, now)).toBe('45s ago');
    expect(formatAgo(now - 3 * 60_000, now)).toBe('3m ago');
    expect(formatAgo(now - 5 * 3_600_000, now)).toBe('5h ago');
    expect(formatAgo(now - 3 * 86_400_000, now)).toBe('3d ago');
  });

  it('truncates to one line', () => {
    expect(truncate('a\nb', 10)).toBe('a b');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
  });
});

describe('rollout progress', () => {
  it('counts finished over targeted', () => {
    const status = rolloutFixture({ succeeded: 6, failed: 1, canceled: 1, queued: 1, installing: 1 });
    expect(progressOf(status)).toEqual({ finished: 8, open: 2, targeted: 10, percent: 80 });
    expect(statusSummary(status)).toBe('8/10 finished, 6 succeeded, 1 failed, 1 canceled, 2 in progress');
  });

  it('is 0% with nothing targeted', () => {
    expect(progressOf(rolloutFixture()).percent).toBe(0);
  });

  it('counts verifying as in progress, not finished', () => {
    const status = rolloutFixture({ succeeded: 1, installing: 1, verifying: 2 });
    expect(progressOf(status)).toEqual({ finished: 1, open: 3, targeted: 4, percent: 25 });
    expect(statusSummary(status)).toBe('1/4 finished, 1 succeeded, 3 in progress');
  });
});

describe('rollout status, waves and gates', () => {
  const plain = colorsFor(captured(false), {});

  it('formats shares as percentages', () => {
    expect(formatPercent(0.95)).toBe('95%');
    expect(formatPercent(0.995)).toBe('99.5%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(5 / 6)).toBe('83.3%');
  });

  it('formats times to come', () => {
    expect(formatTimeOfDay(NOW + 30 * 60_000, NOW)).toBe('12:30:00Z');
    expect(formatTimeOfDay(NOW + 24 * 3_600_000, NOW)).toBe('2025-03-02 12:00:00Z');
    expect(formatIn(NOW + 90_000, NOW)).toBe('in 1.5m');
    expect(formatIn(NOW - 5_000, NOW)).toBe('now');
  });

  it('counts waves from 1', () => {
    expect(waveLabel({ wave: 0, waves: [1, 10, 100] })).toBe('1/3');
    expect(waveLabel({ wave: 2, waves: [1, 10, 100] })).toBe('3/3');
  });

  it.each([
    [{ kind: 'paused', reason: 'maintenance window' }, 'paused: maintenance window'],
    [{ kind: 'paused', reason: ' ' }, 'paused'],
    [{ kind: 'paused', reason: 'paused' }, 'paused'],
    [
      { kind: 'operator', wave: 1 },
      'waiting for an operator to open wave 2: fleet rollout advance ro_xyz789',
    ],
    [
      { kind: 'success', wave: 0, needed: 0.95, reached: 0.8 },
      'waiting for wave 1 to reach 95% success (80% now)',
    ],
    [{ kind: 'soak', wave: 1, until: NOW + 30 * 60_000 }, 'soaking until 12:30:00Z (in 30m)'],
  ] as const)('describes the gate %j', (gate, text) => {
    expect(gateText(gate, 'ro_xyz789', NOW)).toBe(text);
  });

  it('names who set a status and why, only for paused, canceled and aborted', () => {
    const base = { reason: 'why', statusBy: 'bob' };
    expect(statusCause({ ...base, status: 'paused' })).toBe('by bob: why');
    expect(statusCause({ ...base, status: 'aborted', statusBy: null })).toBe('why');
    expect(statusCause({ ...base, status: 'canceled', reason: null })).toBe('by bob');
    expect(statusCause({ status: 'canceled', reason: null, statusBy: null })).toBeNull();
    expect(statusCause({ ...base, status: 'active' })).toBeNull();
    expect(statusCause({ ...base, status: 'completed' })).toBeNull();
  });

  it('puts a rollout on one line, with its wave when it has several', () => {
    expect(statusLine(rolloutFixture({ succeeded: 3 }), plain)).toBe(
      'ro_xyz789 completed: 3/3 finished, 3 succeeded',
    );
    const paused = wavedFixture([1, 100], [{ succeeded: 1 }, { queued: 2 }], {
      status: 'paused',
      reason: 'look at cam-7',
      statusBy: 'bob',
    });
    expect(statusLine(paused, plain)).toBe(
      'ro_xyz789 paused, wave 2/2: 1/3 finished, 1 succeeded, 2 in progress (by bob: look at cam-7)',
    );
  });

  it('colours every rollout status on a terminal', () => {
    const c = colorsFor(captured(true), {});
    for (const status of ['active', 'paused', 'completed', 'canceled', 'aborted'] as const) {
      expect(hasAnsi(colorRolloutStatus(status, c))).toBe(true);
      expect(stripAnsi(colorRolloutStatus(status, c))).toBe(status);
    }
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [300 * 1024 + 7, '300 KiB'],
    [5 * 1024 * 1024, '5 MiB'],
    [1.25 * 1024 ** 3, '1.3 GiB'],
  ])('%i → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
