import { setTimeout as sleep } from 'node:timers/promises';
import type { Offer } from '@camfleet/contracts';
import type { DeviceEvent } from './device.js';
import type { FaultOptions, Random } from './faults.js';
import type { DeviceCounters } from './summary.js';

/**
 * What every part of one simulated camera shares (session, offers, installs). SimulatedDevice
 * builds it once and hands it to each part, so none of them needs the others' internals.
 */
export interface DeviceContext {
  readonly id: string;
  /**
   * The version the camera runs (registered on every session, changed by an install) and, when it
   * keeps its images, the sha256 of the image it runs (null: unknown).
   */
  readonly firmware: { version: string; image: string | null };
  readonly counters: DeviceCounters;
  readonly faults: FaultOptions;
  /** Drawn in a fixed order (slowness, cancels, install plans, blips): tests inject it. */
  readonly random: Random;
  /** Delay before retry n of a call, a report or a reconnect (full jitter). */
  readonly backoff: (attempt: number) => number;
  /** Aborted once the device stops for good: ends every sleep and retry loop. */
  readonly lifetime: AbortSignal;
  emit(event: DeviceEvent): void;
}

/** Which attempt an event is about. */
export interface OfferRef {
  deviceId: string;
  deliveryId: string;
  attempt: number;
}

export function refOf(deviceId: string, offer: Pick<Offer, 'deliveryId' | 'attempt'>): OfferRef {
  return { deviceId, deliveryId: offer.deliveryId, attempt: offer.attempt };
}

/** Sleeps; false if `signal` aborted meanwhile (the device stopped, the attempt was abandoned). */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
