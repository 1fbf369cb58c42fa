import { describe, expect, it } from 'vitest';
import {
  colorState,
  colorsEnabled,
  colorsFor,
  formatAgo,
  formatTimestamp,
  keyValues,
  progressOf,
  statusSummary,
  stripAnsi,
  table,
  truncate,
} from './format.js';
import { captured, hasAnsi, rolloutFixture } from './test-helpers.js';

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
    expect(statusSummary(status)).toBe('8/10 finished, 6 succeeded, 1 failed, 1 canceled, 2 open');
  });

  it('is 0% with nothing targeted', () => {
    expect(progressOf(rolloutFixture()).percent).toBe(0);
  });
});
