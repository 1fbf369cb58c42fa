import { MaintenanceWindow, WEEKDAYS } from './routers/rollout.schema.js';

/** How a maintenance window is written by people (the CLI's --window, the dashboard's form). */
export const WINDOW_HINT =
  "DAYS HH:MM-HH:MM, e.g. 'Mon-Fri 01:00-04:00', 'Sat,Sun 22:00-02:00', 'daily 03:00-05:00'";

type Day = (typeof WEEKDAYS)[number];

/** `Mon-Fri`, `Sat,Sun`, `daily`: the weekdays named, a range wrapping past Sunday if need be; or the name that is no weekday. */
function daysOf(text: string): Day[] | { notADay: string } {
  if (text.toLowerCase() === 'daily') return [...WEEKDAYS];
  const days: Day[] = [];
  for (const part of text.split(',')) {
    const names = part.split('-');
    if (names.length > 2) return { notADay: part };
    const ends = names.map((name) => WEEKDAYS.findIndex((day) => day.toLowerCase() === name.toLowerCase()));
    const bad = ends.findIndex((i) => i < 0);
    if (bad >= 0) return { notADay: names[bad] ?? part };
    const [a, b = a] = ends as [number, number?];
    const length = ((b - a + 7) % 7) + 1;
    for (let i = 0; i < length; i++) days.push(WEEKDAYS[(a + i) % 7] as Day);
  }
  return days;
}

/**
 * `Mon-Fri 01:00-04:00` as a MaintenanceWindow, or what is wrong with it in words (`'weekdays' is
 * not a weekday (Mon … Sun)`, the hint, or the schema's own message).
 */
export function windowFromText(text: string): { window: MaintenanceWindow } | { problem: string } {
  const match = /^\s*(\S+)\s+(\d{1,2}:\d{2}(?::\d{2})?)-(\d{1,2}:\d{2}(?::\d{2})?)\s*$/.exec(text);
  if (!match) return { problem: `write ${WINDOW_HINT}` };
  const days = daysOf(match[1] ?? '');
  if (!Array.isArray(days)) return { problem: `'${days.notADay}' is not a weekday (Mon … Sun)` };
  const pad = (time: string) => time.padStart(time.indexOf(':') === 1 ? time.length + 1 : time.length, '0');
  const parsed = MaintenanceWindow.safeParse({
    days: [...new Set(days)],
    start: pad(match[2] ?? ''),
    end: pad(match[3] ?? ''),
  });
  return parsed.success
    ? { window: parsed.data }
    : { problem: parsed.error.issues[0]?.message ?? 'not a window' };
}
