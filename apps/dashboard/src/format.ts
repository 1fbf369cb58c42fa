import type { Gate, StateCounts } from '@camfleet/contracts';
import {
  AGO_SPACED,
  formatAgo as ago,
  countOf,
  escapeControls,
  formatPercent,
  gateText,
} from '@camfleet/present';

/**
 * Text from the store as the page shows it: control, bidi and lone-surrogate characters written
 * as `\uXXXX` (escapeControls), so what a device or an older version stored cannot reorder or hide
 * what is around it. Every device, patch, rollout and event string a view renders goes through here.
 */
export function showText(text: string): string {
  return escapeControls(text);
}

export const ACTIVE_STATES = ['offered', 'downloading', 'installing', 'verifying'] as const;

/** Bar segments: finished outcomes first, then work in progress, then what still waits. */
export const SEGMENTS = [
  { key: 'succeeded', label: 'succeeded', states: ['succeeded'] },
  { key: 'failed', label: 'failed', states: ['failed'] },
  { key: 'canceled', label: 'canceled', states: ['canceled'] },
  { key: 'active', label: 'in progress', states: ACTIVE_STATES },
  { key: 'queued', label: 'queued', states: ['queued'] },
] as const;

/** Offered to or at work on a device: the bars' "in progress" (queued deliveries wait apart). */
export function activeCount(counts: StateCounts): number {
  return countOf(counts, ACTIVE_STATES);
}

export function formatTime(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms).toLocaleString();
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

/** `45 s ago`, `3 min ago`, `2 h ago`, `5 d ago`. */
export function formatAgo(ms: number, now: number = Date.now()): string {
  return ago(ms, now, AGO_SPACED);
}

export function formatMs(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/** What holds the rollout back, in words. */
export function describeGate(gate: Gate | null): string {
  if (!gate) return 'none: deliveries proceed';
  return showText(
    gateText(gate, {
      share: (share) => formatPercent(share, 0),
      soak: (soak) => `wave ${soak.wave + 1} soaks until ${formatTime(soak.until)}`,
      at: (ms) => `at ${formatTime(ms)}`,
    }),
  );
}
