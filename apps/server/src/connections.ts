import { DeviceId, LimitRefused, type Principal } from '@camfleet/contracts';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { CredentialsRefused } from './auth.js';

export interface ConnectionLimits {
  messagesPerSecond: number;
  maxBufferedBytes: number;
  /** Connection logs carry the connectionId (and deviceId); debug for open/close, info for refusals. */
  log: Logger;
}

/** WebSocket close codes camfleet uses; clients act on them. */
export const CLOSE = {
  /** Credentials revoked or rotated: check them again, do not retry blindly. */
  credentials: 4001,
  /** A newer connection of the same device replaced this one: do not reconnect. */
  replaced: 4002,
  /** Policy: too many messages. */
  policy: 1008,
} as const;

/**
 * The pod's WebSocket connections and the limits that keep one client from hurting others: a
 * message rate (token bucket; over it the client is told and dropped) and a cap on unsent bytes
 * (a client that never reads is dropped instead of growing the pod's memory).
 */
export class Connections {
  private readonly byId = new Map<
    string,
    { ws: WebSocket; deviceId: string | null; kind: Principal['kind'] }
  >();
  private readonly byDevice = new Map<string, Set<string>>();
  /**
   * Each added socket's log fields (connectionId, deviceId). A pino child per connection costs
   * memory on every idle device, so the child is made only when there is something to log.
   */
  private readonly logFields = new WeakMap<WebSocket, Record<string, string>>();

  private readonly log: Logger;

  constructor(private readonly limits: ConnectionLimits) {
    this.log = limits.log;
  }

  /** Applies the limits to a fresh socket, before anything is read from it. */
  guard(ws: WebSocket): void {
    let tokens = this.limits.messagesPerSecond * 2;
    let refilled = Date.now();
    ws.on('message', () => {
      const now = Date.now();
      tokens = Math.min(
        this.limits.messagesPerSecond * 2,
        tokens + ((now - refilled) * this.limits.messagesPerSecond) / 1000,
      );
      refilled = now;
      tokens -= 1;
      if (tokens < 0 && ws.readyState === ws.OPEN) {
        const reason = `more than ${this.limits.messagesPerSecond} messages per second`;
        this.logOf(ws).info({ reason }, 'connection dropped');
        ws.close(CLOSE.policy, reason);
      }
    });
    const send = ws.send.bind(ws);
    ws.send = ((data: Parameters<WebSocket['send']>[0], ...rest: unknown[]) => {
      if (ws.bufferedAmount > this.limits.maxBufferedBytes) {
        if (ws.readyState === ws.OPEN) {
          const reason = `more than ${this.limits.maxBufferedBytes} unsent bytes`;
          this.logOf(ws).info({ reason }, 'connection dropped');
        }
        ws.terminate();
        return;
      }
      (send as (...args: unknown[]) => void)(data, ...rest);
    }) as WebSocket['send'];
  }

  /** An authenticated connection; a device's is found again by its device id. */
  add(connectionId: string, ws: WebSocket, principal: Principal): void {
    const kind = principal.kind;
    const deviceId = kind === 'device' ? principal.deviceId : null;
    this.byId.set(connectionId, { ws, deviceId, kind });
    if (deviceId) {
      const set = this.byDevice.get(deviceId) ?? new Set<string>();
      set.add(connectionId);
      this.byDevice.set(deviceId, set);
    }
    // Ids only: the device (or enrollee) id, an admin token's name; never what was presented.
    this.logFields.set(ws, {
      connectionId,
      ...(kind === 'device' || kind === 'enrollee' ? { deviceId: principal.deviceId } : {}),
      ...(kind === 'admin' ? { admin: principal.name } : {}),
    });
    const debug = this.log.isLevelEnabled('debug');
    if (debug) this.logOf(ws).debug({ kind }, 'connection opened');
    ws.once('close', (code: number, reason: Buffer) => {
      if (debug) this.logOf(ws).debug({ kind, code, reason: reason.toString() }, 'connection closed');
      this.remove(connectionId);
    });
  }

  private logOf(ws: WebSocket): Logger {
    const fields = this.logFields.get(ws);
    return fields ? this.log.child(fields) : this.log;
  }

  /**
   * Logs a connection whose credentials were refused: the reason and the claimed device id, never
   * what was presented as a secret or token.
   */
  refused(
    connectionId: string,
    params: Readonly<Record<string, string | undefined>> | null,
    error: unknown,
  ): void {
    const claimed = DeviceId.safeParse(params?.deviceId);
    const fields = { connectionId, ...(claimed.success ? { deviceId: claimed.data } : {}) };
    if (error instanceof CredentialsRefused)
      this.log.info({ ...fields, reason: error.reason }, 'connection refused');
    else if (error instanceof Error && error.cause instanceof LimitRefused)
      // A throttled or limited client: counted in metrics; one info line, not a warning per try.
      this.log.info({ ...fields, limit: error.cause.limit.name }, 'connection refused by a limit');
    else
      this.log.warn(
        { ...fields, err: error instanceof Error ? error.message : String(error) },
        'connection not authenticated',
      );
  }

  /** Open authenticated connections by principal kind. */
  countByKind(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const { kind } of this.byId.values()) counts[kind] = (counts[kind] ?? 0) + 1;
    return counts;
  }

  private remove(connectionId: string): void {
    const entry = this.byId.get(connectionId);
    this.byId.delete(connectionId);
    if (!entry?.deviceId) return;
    const set = this.byDevice.get(entry.deviceId);
    set?.delete(connectionId);
    if (set?.size === 0) this.byDevice.delete(entry.deviceId);
  }

  /** Closes a device's connections here, except `keep`. */
  closeDevice(deviceId: string, code: number, reason: string, keep: string | null = null): void {
    for (const id of this.byDevice.get(deviceId) ?? []) {
      if (id !== keep) this.byId.get(id)?.ws.close(code, reason);
    }
  }

  close(connectionId: string, code: number, reason: string): void {
    this.byId.get(connectionId)?.ws.close(code, reason);
  }
}
