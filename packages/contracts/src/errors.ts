/**
 * Domain error codes shared by server and clients. The server throws FleetError;
 * the router turns it into a TRPCError whose `data.fleetCode` carries the code.
 */
export const FLEET_ERROR_CODES = [
  'INVALID_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'STALE_ATTEMPT',
  'DELIVERY_FINISHED',
  'INVALID_TRANSITION',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'UNAVAILABLE',
] as const;
export type FleetErrorCode = (typeof FLEET_ERROR_CODES)[number];

/** The tRPC error code each domain error travels as. */
export const TRPC_CODE_OF = {
  INVALID_INPUT: 'BAD_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  STALE_ATTEMPT: 'CONFLICT',
  DELIVERY_FINISHED: 'CONFLICT',
  INVALID_TRANSITION: 'CONFLICT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
} as const satisfies Record<FleetErrorCode, string>;

export class FleetError extends Error {
  override readonly name = 'FleetError';
  constructor(
    readonly code: FleetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isFleetErrorCode(value: unknown): value is FleetErrorCode {
  return typeof value === 'string' && (FLEET_ERROR_CODES as readonly string[]).includes(value);
}
