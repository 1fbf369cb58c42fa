/** How an age reads on a surface. */
export interface AgoStyle {
  /** How a count is made whole: floored (`59s` until a full minute has passed) or rounded. */
  whole: (value: number) => number;
  /** What follows each count: `s`, `m`, … or ` s`, ` min`, … */
  units: { seconds: string; minutes: string; hours: string; days: string };
  /** Said for less than a second (clock skew too); without it, `0 s ago`. */
  justNow?: string;
}

/** The CLI's: `45s ago`, `3m ago`, `2h ago`, `5d ago`; `just now` under a second. */
export const AGO_COMPACT: AgoStyle = {
  whole: Math.floor,
  units: { seconds: 's', minutes: 'm', hours: 'h', days: 'd' },
  justNow: 'just now',
};

/** The dashboard's: `45 s ago`, `3 min ago`, `2 h ago`, `5 d ago`, rounded. */
export const AGO_SPACED: AgoStyle = {
  whole: Math.round,
  units: { seconds: ' s', minutes: ' min', hours: ' h', days: ' d' },
};

/** How long ago `ms` was at `now`: seconds under a minute, minutes under an hour, hours under two days, then days. */
export function formatAgo(ms: number, now: number, style: AgoStyle = AGO_COMPACT): string {
  const delta = now - ms;
  if (style.justNow !== undefined && delta < 1000) return style.justNow;
  const { units } = style;
  const seconds = Math.max(0, style.whole(delta / 1000));
  if (seconds < 60) return `${seconds}${units.seconds} ago`;
  const minutes = style.whole(seconds / 60);
  if (minutes < 60) return `${minutes}${units.minutes} ago`;
  const hours = style.whole(minutes / 60);
  if (hours < 48) return `${hours}${units.hours} ago`;
  return `${style.whole(hours / 24)}${units.days} ago`;
}
