const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** A byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB` (binary units, one decimal). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 'B';
  for (const next of BYTE_UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${+value.toFixed(1)} ${unit}`;
}

/** A share in [0, 1] as a percentage: 0.95 → `95%`, 0.995 → `99.5%` (`100%` with 0 decimals). */
export function formatPercent(share: number, decimals = 1): string {
  return `${+(share * 100).toFixed(decimals)}%`;
}

/** `part` of `whole` as a whole percentage (`0%` of nothing): 1 of 3 → `33%`. */
export function percentOf(part: number, whole: number): string {
  return whole === 0 ? '0%' : formatPercent(part / whole, 0);
}
