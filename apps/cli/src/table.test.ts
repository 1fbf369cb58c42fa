import { describe, expect, it } from 'vitest';
import { colorState, colorsFor } from './colors.js';
import { keyValues, LiveTable, stripAnsi, table, truncate, truncateAnsi, visibleWidth } from './table.js';
import { captured, hasAnsi } from './test-helpers.js';

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

describe('text', () => {
  it('truncates to one line', () => {
    expect(truncate('a\nb', 10)).toBe('a b');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
  });
});

describe('display width', () => {
  const c = colorsFor(captured(true), {});
  const plain = colorsFor(captured(false), {});

  it('counts terminal columns: no escapes, wide characters two, combining marks none', () => {
    expect(visibleWidth('abc')).toBe(3);
    expect(visibleWidth(c.green('succeeded'))).toBe(9);
    expect(visibleWidth('東京')).toBe(4);
    expect(visibleWidth(c.red('東京-1'))).toBe(6);
    expect(visibleWidth('cafe\u0301')).toBe(4);
    expect(visibleWidth('→ …')).toBe(3);
  });

  it('strips colours, and the cursor codes of a redraw', () => {
    expect(stripAnsi(`${c.bold('a')}\u001b[?25l\u001b[2F\u001b[Jb`)).toBe('ab');
  });

  it('aligns tables and live tables by columns, not characters', () => {
    const rows = [
      ['cam-東京', 'x'],
      ['cam-1', 'y'],
    ];
    const lines = table(['ID', 'V'], rows, plain).split('\n');
    expect(lines.map((line) => visibleWidth(line))).toEqual([12, 12, 12]);
    expect(lines[1]).toBe('cam-東京   x');
    const live = new LiveTable(['ID', 'V'], plain);
    live.fit(rows);
    expect(rows.map((row) => live.line(row))).toEqual(lines.slice(1));
  });

  it('cuts a wide character whole, and keeps combining marks with their letter', () => {
    expect(truncateAnsi('東京大阪', 4)).toBe('東…');
    expect(truncateAnsi('東京大阪', 5)).toBe('東京…');
    expect(truncateAnsi('cafe\u0301-au-lait', 5)).toBe('cafe\u0301…');
    expect(stripAnsi(truncateAnsi(c.green('東京大阪'), 6))).toBe('東京…');
  });

  it('fits wide cells to the terminal, a wide character that would cross the edge left out', () => {
    const fitted = table(['K', 'V'], [['a', '東'.repeat(40)]], plain, [], 20);
    expect(fitted.split('\n')).toEqual(['K   V', `a   ${'東'.repeat(7)}…`]);
  });
});
