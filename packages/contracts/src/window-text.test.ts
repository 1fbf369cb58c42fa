import { describe, expect, it } from 'vitest';
import { windowFromText } from './window-text.js';

describe('windowFromText', () => {
  it.each([
    ['Mon-Fri 01:00-04:00', { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], start: '01:00', end: '04:00' }],
    ['fri-mon 9:00-17:30', { days: ['Fri', 'Sat', 'Sun', 'Mon'], start: '09:00', end: '17:30' }],
    ['Sat,Sun,Sat 22:00-02:00', { days: ['Sat', 'Sun'], start: '22:00', end: '02:00' }],
    [
      'daily 03:00:30-03:10',
      { days: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'], start: '03:00:30', end: '03:10' },
    ],
  ])('%s', (text, window) => {
    expect(windowFromText(text)).toEqual({ window });
  });

  it.each([
    ['weekdays 01:00-04:00', "'weekdays' is not a weekday"],
    ['Mon-Funday 01:00-04:00', "'Funday' is not a weekday"],
    ['Mon-Tue-Wed 01:00-04:00', "'Mon-Tue-Wed' is not a weekday"],
    ['Mon 1am-4am', 'write DAYS HH:MM-HH:MM'],
    ['Mon 04:00-04:00', 'start and end differ'],
    ['Mon 25:00-04:00', 'a time of day'],
  ])('%s: %s', (text, problem) => {
    const read = windowFromText(text);
    expect('problem' in read && read.problem).toContain(problem);
  });
});
