import { type AppRouter, type FleetErrorCode, isFleetErrorCode } from '@camfleet/contracts';
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import { adminClientOver, errorDataField, type FleetClient } from './admin.js';

export { type FleetClient, limitNameOf, trpcCodeOf } from './admin.js';
export type WSClient = ReturnType<typeof createWSClient>;

/** `http://host:port` → the tRPC HTTP and WebSocket endpoints of a pod. */
export function endpointsOf(baseUrl: string): { http: string; ws: string } {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`expected an http(s):// URL, got ${baseUrl}`);
  }
  const root = `${url.host}${url.pathname.replace(/\/+$/, '')}`;
  const wsScheme = url.protocol === 'https:' ? 'wss' : 'ws';
  return { http: `${url.protocol}//${root}/trpc`, ws: `${wsScheme}://${root}/trpc` };
}

/**
 * An operator's client: queries and mutations over HTTP, subscriptions over a lazily
 * opened WebSocket. `close()` releases the socket.
 */
export function createAdminClient(
  baseUrl: string,
  token: string,
): { client: FleetClient; close: () => void } {
  return adminClientOver({
    ...endpointsOf(baseUrl),
    token,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    closeMs: 0,
    retryDelayMs: (attempt) => Math.min(200 * 2 ** attempt, 5_000),
  });
}

/** How a device proves who it is: its own secret, or an enrollment token (then it may only enroll). */
export type DeviceCredentials = { secret: string } | { enrollToken: string };

export interface DeviceConnectionOptions {
  baseUrl: string;
  deviceId: string;
  credentials: DeviceCredentials;
  /** The local (source) address to bind the socket to: spreads many clients over 127.0.0.x. */
  localAddress?: string;
  /** Delay before reconnect attempt n (0-based). */
  retryDelayMs?: (attempt: number) => number;
  /** Called when the server refuses the credentials: the caller should stop, not retry. */
  onRejected?: (message: string) => void;
  onOpen?: () => void;
  onClose?: () => void;
}

/** Full jitter exponential backoff: spreads a reconnect storm over time. */
export function jitteredBackoff(baseMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

/**
 * A device's client: everything over one WebSocket, authenticated by connectionParams.
 * The server refuses bad credentials with an `id: null` UNAUTHORIZED frame and closes;
 * a socket subclass spots that frame so the caller can stop instead of reconnecting.
 */
export function createDeviceClient(options: DeviceConnectionOptions): {
  client: FleetClient;
  wsClient: WSClient;
} {
  const { ws } = endpointsOf(options.baseUrl);
  const onRejected = options.onRejected;
  const socketOptions: WebSocket.ClientOptions = options.localAddress
    ? { localAddress: options.localAddress }
    : {};
  class RejectionAwareSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, socketOptions);
      if (onRejected) {
        this.on('message', (data: WebSocket.RawData) => {
          const message = rejectionMessage(data.toString());
          if (message !== null) onRejected(message);
        });
      }
    }
  }
  const wsClient = createWSClient({
    url: ws,
    WebSocket: RejectionAwareSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: { deviceId: options.deviceId, ...options.credentials },
    retryDelayMs: options.retryDelayMs ?? jitteredBackoff(250, 10_000),
    // A dead link is noticed within 40 s (the server pings every 30 s too); pinging more often costs a
    // big fleet thousands of messages a second, and a short pong wait drops devices of a busy pod.
    keepAlive: { enabled: true, intervalMs: 30_000, pongTimeoutMs: 10_000 },
    ...(options.onOpen ? { onOpen: options.onOpen } : {}),
    ...(options.onClose ? { onClose: options.onClose } : {}),
  });
  const client = createTRPCClient<AppRouter>({
    links: [wsLink({ client: wsClient, transformer: superjson })],
  });
  return { client, wsClient };
}

/** Trades an enrollment token for the device's own secret (once per device id). */
export async function enrollDevice(baseUrl: string, deviceId: string, enrollToken: string): Promise<string> {
  const enrollee = createDeviceClient({ baseUrl, deviceId, credentials: { enrollToken } });
  try {
    return (await enrollee.client.device.enroll.mutate()).secret;
  } finally {
    enrollee.wsClient.close();
  }
}

/** The message of a connection-level UNAUTHORIZED/FORBIDDEN frame, or null for anything else. */
function rejectionMessage(frame: string): string | null {
  if (!frame.startsWith('{"id":null')) return null;
  try {
    type ErrorShape = { message?: string; data?: { code?: string } };
    const parsed = JSON.parse(frame) as { id: null; error?: ErrorShape & { json?: ErrorShape } };
    // superjson wraps the error shape in `json`.
    const shape = parsed.error?.json ?? parsed.error;
    const code = shape?.data?.code;
    if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') return shape?.message ?? code;
  } catch {
    // not a frame we understand: not a rejection
  }
  return null;
}

/** The domain error code of a failed call, if the server sent one. */
export function fleetCodeOf(error: unknown): FleetErrorCode | null {
  const code = errorDataField(error, 'fleetCode');
  return isFleetErrorCode(code) ? code : null;
}

export {
  type CredentialEntries,
  CredentialsFileError,
  CredentialsFileWriter,
  mergeCredentialsFile,
  readCredentialsFile,
} from './credentials-file.js';
export { generateSigningKeys, keyIdOf, signManifest, verifyManifest } from './signing.js';
export { TRPCClientError };
