import type { DeliveryState, Gate, StateCounts } from '@camfleet/contracts';
import { DELIVERY_STATES } from '@camfleet/contracts/states';

/** Delivery states in pipeline order. */
export const STATES = DELIVERY_STATES;

export const ACTIVE_STATES = ['offered', 'downloading', 'installing', 'verifying'] as const;

/** Bar segments: finished outcomes first, then work in progress, then what still waits. */
export const SEGMENTS = [
  { key: 'succeeded', label: 'succeeded', states: ['succeeded'] },
  { key: 'failed', label: 'failed', states: ['failed'] },
  { key: 'canceled', label: 'canceled', states: ['canceled'] },
  { key: 'active', label: 'in progress', states: ACTIVE_STATES },
  { key: 'queued', label: 'queued', states: ['queued'] },
] as const;

export function sum(counts: StateCounts, states: readonly DeliveryState[]): number {
  return states.reduce((total, state) => total + counts[state], 0);
}

export function activeCount(counts: StateCounts): number {
  return sum(counts, ACTIVE_STATES);
}

export function totalCount(counts: StateCounts): number {
  return sum(counts, STATES);
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  return `${Math.round((part / whole) * 100)}%`;
}

export function formatTime(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms).toLocaleString();
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

export function formatAgo(ms: number, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
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
  switch (gate.kind) {
    case 'paused': {
      // The server says `paused` when nobody gave a reason.
      const reason = gate.reason.trim();
      return reason === '' || reason === 'paused' ? 'paused' : `paused: ${reason}`;
    }
    case 'operator':
      // `wave` is the one an operator would open (counted from 0).
      return `waiting for an operator to open wave ${gate.wave + 1}`;
    case 'success':
      return `waiting for wave ${gate.wave + 1} to reach ${percent(gate.needed, 1)} success (${percent(gate.reached, 1)} now)`;
    case 'soak':
      return `wave ${gate.wave + 1} soaks until ${formatTime(gate.until)}`;
  }
}
