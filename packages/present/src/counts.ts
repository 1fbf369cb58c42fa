import type { RolloutStatus, StateCounts } from '@camfleet/contracts';
import {
  DELIVERY_STATES,
  type DeliveryStateName,
  FINAL_STATES,
  OPEN_STATES,
} from '@camfleet/contracts/states';

/** Deliveries in any of `states`. */
export function countOf(counts: StateCounts, states: readonly DeliveryStateName[]): number {
  return states.reduce((total, state) => total + counts[state], 0);
}

/** Deliveries in any state. */
export function totalOf(counts: StateCounts): number {
  return countOf(counts, DELIVERY_STATES);
}

/** Deliveries in progress (queued, offered, downloading, installing, verifying). */
export function openOf(counts: StateCounts): number {
  return countOf(counts, OPEN_STATES);
}

/** Deliveries in a final state: succeeded + failed + canceled. */
export function finishedOf(counts: StateCounts): number {
  return countOf(counts, FINAL_STATES);
}

export interface Progress {
  /** Deliveries in a final state: succeeded + failed + canceled. */
  finished: number;
  /** Deliveries still moving: queued + offered + downloading + installing + verifying. */
  open: number;
  targeted: number;
  /** finished / targeted in percent, 0 when nothing is targeted. */
  percent: number;
}

export function progressOf(status: Pick<RolloutStatus, 'counts' | 'targeted'>): Progress {
  const finished = finishedOf(status.counts);
  const open = openOf(status.counts);
  const percent = status.targeted > 0 ? Math.floor((finished / status.targeted) * 100) : 0;
  return { finished, open, targeted: status.targeted, percent };
}
