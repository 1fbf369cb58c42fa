import { formatDuration } from '@camfleet/contracts';
import { formatAgo } from '@camfleet/present';

const pad = (n: number): string => String(n).padStart(2, '0');

/** Epoch ms → `2025-03-01 14:05:09Z` (UTC, second precision). */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}Z`;
}

/** `12:30:00Z` for a time later today (UTC), the full timestamp otherwise. */
export function formatTimeOfDay(ms: number, now: number): string {
  const full = formatTimestamp(ms);
  return full.slice(0, 10) === formatTimestamp(now).slice(0, 10) ? full.slice(11) : full;
}

/** `in 9m`, `in 45s`; `now` once the moment has come. */
export function formatIn(ms: number, now: number): string {
  const delta = ms - now;
  if (delta < 1000) return 'now';
  return `in ${formatDuration(Math.round(delta / 1000) * 1000)}`;
}

/** Timestamp with its age: `2025-03-01 14:05:09Z (3m ago)`. */
export function formatWhen(ms: number, now: number): string {
  return `${formatTimestamp(ms)} (${formatAgo(ms, now)})`;
}
