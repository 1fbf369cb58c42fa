import { fleetCodeOf, trpcCodeOf } from '@camfleet/client';

/**
 * How a failed call should be handled:
 * - `transient`: the transport failed or the server is briefly unable (Redis restarting): retry.
 * - `credentials`: the server refused who we are: stop the device.
 * - `final`: the server answered with a domain error (stale attempt, finished delivery, …): give up on it.
 */
export type FailureKind = 'transient' | 'credentials' | 'final';

const TRANSIENT_TRPC_CODES = new Set([
  'INTERNAL_SERVER_ERROR',
  'SERVICE_UNAVAILABLE',
  'TIMEOUT',
  'TOO_MANY_REQUESTS',
  'CLIENT_CLOSED_REQUEST',
  'BAD_GATEWAY',
  'GATEWAY_TIMEOUT',
]);

export function classifyFailure(error: unknown): FailureKind {
  const fleetCode = fleetCodeOf(error);
  if (fleetCode === 'UNAVAILABLE') return 'transient';
  if (fleetCode === 'UNAUTHORIZED') return 'credentials';
  if (fleetCode !== null) return 'final';
  const trpcCode = trpcCodeOf(error);
  if (trpcCode === null) return 'transient';
  // FORBIDDEN on a call is about that call (e.g. someone else's delivery), not who we are.
  if (trpcCode === 'UNAUTHORIZED') return 'credentials';
  return TRANSIENT_TRPC_CODES.has(trpcCode) ? 'transient' : 'final';
}

/**
 * Whether an answer to `device.enroll` or `device.register` refuses who we are: UNAUTHORIZED or
 * FORBIDDEN (as a domain or a tRPC code). On these two calls that is about the credentials, so the
 * device stops for good.
 */
export function isCredentialFailure(error: unknown): boolean {
  const code = fleetCodeOf(error) ?? trpcCodeOf(error);
  return code === 'UNAUTHORIZED' || code === 'FORBIDDEN';
}

/** A short name for an error: its domain code, tRPC code or message. */
export function describeFailure(error: unknown): string {
  const code = fleetCodeOf(error) ?? trpcCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
}

/**
 * The message of a connection-level UNAUTHORIZED/FORBIDDEN frame (`id: null`), whether its error
 * is plain or superjson-wrapped (`{ json: shape }`), or null for any other frame.
 */
export function rejectionOfFrame(frame: string): string | null {
  if (!frame.startsWith('{"id":null')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame);
  } catch {
    return null;
  }
  const error = field(parsed, 'error');
  const shape = field(error, 'json') ?? error;
  const code = field(field(shape, 'data'), 'code');
  if (code !== 'UNAUTHORIZED' && code !== 'FORBIDDEN') return null;
  const message = field(shape, 'message');
  return typeof message === 'string' ? message : code;
}

/** Whether a frame is the server's "reconnect" notice (`{ id: null, method: 'reconnect' }`), sent when a pod drains. */
export function isReconnectFrame(frame: string): boolean {
  if (!frame.startsWith('{"id":null')) return false;
  try {
    return field(JSON.parse(frame), 'method') === 'reconnect';
  } catch {
    return false;
  }
}

function field(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined;
  return (value as Record<string, unknown>)[key];
}
