const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parses "250ms", "60s", "5m", "1h" or a bare number of milliseconds. Returns null if malformed. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  const ms = Number(match[1]) * UNIT_MS[unit];
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

const DAY_MS = 86_400_000;

/**
 * A long duration: `30d`, `1.5d`, or anything parseDuration reads (`12h`, `90m`, `60s`, `500ms`,
 * bare milliseconds). Null if malformed. (parseDuration stops at hours: rollout timings are short.)
 */
export function parseLongDuration(text: string): number | null {
  const days = /^(\d+(?:\.\d+)?)d$/.exec(text.trim());
  if (!days) return parseDuration(text);
  const ms = Math.round(Number(days[1]) * DAY_MS);
  return Number.isFinite(ms) ? ms : null;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)}m`;
  return `${+(ms / 3_600_000).toFixed(1)}h`;
}
