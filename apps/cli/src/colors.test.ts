import { describe, expect, it } from 'vitest';
import { colorState, colorsEnabled, colorsFor } from './colors.js';
import { captured, hasAnsi } from './test-helpers.js';

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
