import { DeviceId } from '@camfleet/contracts';

/** Width of the zero-padded device number: at least 4 digits, more for big fleets. */
export function idWidth(total: number): number {
  return Math.max(4, String(total).length);
}

/** `${prefix}-0001` for index 0 of a fleet of `total` devices. */
export function deviceIdOf(prefix: string, index: number, total: number): string {
  return `${prefix}-${String(index + 1).padStart(idWidth(total), '0')}`;
}

/** All ids of a fleet, in order. */
export function deviceIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => deviceIdOf(prefix, i, count));
}

/** Null if ids made from this prefix are valid device ids, else why not. */
export function prefixProblem(prefix: string): string | null {
  const result = DeviceId.safeParse(deviceIdOf(prefix, 0, 1));
  return result.success ? null : (result.error.issues[0]?.message ?? 'invalid prefix');
}
