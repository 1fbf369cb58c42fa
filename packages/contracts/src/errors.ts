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
  'TOO_MANY_REQUESTS',
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
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
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

/**
 * The limits that keep one client from starving the others. Each refusal names its limit (clients
 * read `data.limit`) and the pod's environment variable that raises it.
 */
export const LIMIT_NAMES = [
  'subscriptions_per_connection',
  'subscriptions_per_principal',
  'connections_per_token',
  'unauthenticated_per_pod',
  'unauthenticated_per_address',
  'auth_deadline',
  'auth_failures_per_address',
  'auth_failures_per_identity',
  'follower_too_slow',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export interface LimitInfo {
  name: LimitName;
  /** The pod's environment variable that sets it. */
  knob: string;
  /** When to try again, for limits that pass with time. */
  retryAfterSeconds: number | null;
}

/** A request refused by a limit: TOO_MANY_REQUESTS, with which limit and how to raise it. */
export class LimitRefused extends FleetError {
  constructor(
    readonly limit: LimitInfo,
    message: string,
  ) {
    super('TOO_MANY_REQUESTS', `${message} (limit ${limit.name}, set by ${limit.knob})`);
  }
}
