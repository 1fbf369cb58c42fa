import { randomBytes } from 'node:crypto';

/** A random lowercase id suffix (80 bits): `pat_…`, `ro_…`. */
export const randomId = (): string => randomBytes(10).toString('hex');

/** A delivery is one (rollout, device) pair; its id names both. */
export function deliveryIdOf(rolloutId: string, deviceId: string): string {
  return `${rolloutId}:${deviceId}`;
}

/** Splits a delivery id; null when it is not one. */
export function parseDeliveryId(deliveryId: string): { rolloutId: string; deviceId: string } | null {
  const colon = deliveryId.indexOf(':');
  if (colon <= 0) return null;
  return { rolloutId: deliveryId.slice(0, colon), deviceId: deliveryId.slice(colon + 1) };
}
