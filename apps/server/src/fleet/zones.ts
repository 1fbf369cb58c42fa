import type { MaintenanceWindow } from '@camfleet/contracts';

/**
 * Time zones for the Lua scripts, which only add numbers: a zone becomes "offset,until,next" —
 * its UTC offset in seconds at `now`, when that offset next changes (epoch ms; 0 when not within a
 * year) and the offset after. One DST change ahead is enough: a device's zone is recomputed at
 * every registration, a rollout's when it is attached.
 */

const HOUR_MS = 3_600_000;
const YEAR_MS = 366 * 24 * HOUR_MS;
const formatters = new Map<string, Intl.DateTimeFormat>();
const cache = new Map<string, { info: string; validUntil: number }>();

function formatterOf(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** The zone's UTC offset at `ms`, in seconds. */
export function offsetSeconds(zone: string, ms: number): number {
  const parts: Record<string, number> = {};
  for (const part of formatterOf(zone).formatToParts(ms)) parts[part.type] = Number(part.value);
  const local = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return Math.round((local - Math.floor(ms / 1000) * 1000) / 1000);
}

/** The first moment after `from` (within a year) when the offset differs from `offset`, to the second; 0 if none. */
function nextChange(zone: string, from: number, offset: number): number {
  let step = from;
  while (step - from < YEAR_MS) {
    const next = step + 6 * HOUR_MS;
    if (offsetSeconds(zone, next) !== offset) {
      let [low, high] = [step, next];
      while (high - low > 1000) {
        const mid = Math.floor((low + high) / 2);
        if (offsetSeconds(zone, mid) === offset) low = mid;
        else high = mid;
      }
      // Offsets change on a whole second: the first one with the new offset.
      const whole = Math.floor(high / 1000) * 1000;
      return offsetSeconds(zone, whole) !== offset ? whole : whole + 1000;
    }
    step = next;
  }
  return 0;
}

/** "offset,until,next" for the scripts, or '' for a name the runtime does not know. */
export function zoneInfo(zone: string | undefined, now: number): string {
  if (!zone) return '';
  const cached = cache.get(zone);
  if (cached && now < cached.validUntil) return cached.info;
  let offset: number;
  try {
    offset = offsetSeconds(zone, now);
  } catch {
    return '';
  }
  const until = nextChange(zone, now, offset);
  const info = `${offset},${until},${until ? offsetSeconds(zone, until) : offset}`;
  // Recomputed a day before the change it describes, and at least daily.
  cache.set(zone, {
    info,
    validUntil: Math.min(until ? until - 24 * HOUR_MS : Infinity, now + 24 * HOUR_MS),
  });
  return info;
}

const DAY_BITS: Record<MaintenanceWindow['days'][number], number> = {
  Sun: 1,
  Mon: 2,
  Tue: 4,
  Wed: 8,
  Thu: 16,
  Fri: 32,
  Sat: 64,
};

const secondsOfDay = (time: string): number => {
  const [h = 0, m = 0, s = 0] = time.split(':').map(Number);
  return h * 3600 + m * 60 + s;
};

/** Windows as the scripts read them: "mask,start,end;…" (weekday bits from Sunday, seconds of the day). */
export function windowsRule(windows: readonly MaintenanceWindow[]): string {
  return windows
    .map((w) => {
      const mask = w.days.reduce((bits, day) => bits | DAY_BITS[day], 0);
      return `${mask},${secondsOfDay(w.start)},${secondsOfDay(w.end)}`;
    })
    .join(';');
}
