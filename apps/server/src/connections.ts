import type { WebSocket } from 'ws';

export interface ConnectionLimits {
  messagesPerSecond: number;
  maxBufferedBytes: number;
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
  private readonly byId = new Map<string, { ws: WebSocket; deviceId: string | null }>();
  private readonly byDevice = new Map<string, Set<string>>();

  constructor(private readonly limits: ConnectionLimits) {}

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
        ws.close(CLOSE.policy, `more than ${this.limits.messagesPerSecond} messages per second`);
      }
    });
    const send = ws.send.bind(ws);
    ws.send = ((data: Parameters<WebSocket['send']>[0], ...rest: unknown[]) => {
      if (ws.bufferedAmount > this.limits.maxBufferedBytes) {
        ws.terminate();
        return;
      }
      (send as (...args: unknown[]) => void)(data, ...rest);
    }) as WebSocket['send'];
  }

  add(connectionId: string, ws: WebSocket, deviceId: string | null): void {
    this.byId.set(connectionId, { ws, deviceId });
    if (deviceId) {
      const set = this.byDevice.get(deviceId) ?? new Set<string>();
      set.add(connectionId);
      this.byDevice.set(deviceId, set);
    }
    ws.once('close', () => this.remove(connectionId));
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
