/** The q-quantile (0..1) of some numbers, nearest-rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** Per-key median of repeated runs' results (numbers only; other fields from the first run). */
export function medianOf<T extends object>(runs: readonly T[]): T {
  const first = runs[0];
  if (!first) throw new Error('no runs');
  const fields = (run: T) => run as Record<string, unknown>;
  const out = { ...fields(first) };
  for (const [key, value] of Object.entries(out)) {
    if (typeof value === 'number') out[key] = median(runs.map((run) => Number(fields(run)[key])));
  }
  return out as T;
}

/** b − a for every key of b (a missing key counts as 0). */
export function deltas(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([key, value]) => [key, value - (a[key] ?? 0)]));
}

/** Rounds to `digits` decimals, for a readable JSON. */
export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
