import type { IncomingMessage } from 'node:http';
import { DeviceId, LimitRefused, type Principal } from '@camfleet/contracts';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
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

  /**
   * Applies the limits to a fresh socket, before anything is read from it. A `PodSocket` keeps the
   * limits' state in its own fields and shares one listener and `send` with every other socket; any
   * other socket (the legacy gateway's) gets a listener and a `send` wrapper of its own.
   */
  guard(ws: WebSocket): void {
    if (ws instanceof PodSocket) {
      ws.guardedBy = this;
      ws.tokens = this.limits.messagesPerSecond * 2;
      ws.refilled = ws.heard = Date.now();
      ws.on('message', onPodSocketMessage);
      return;
    }
    const state = { tokens: this.limits.messagesPerSecond * 2, refilled: Date.now() };
    ws.on('message', () => this.spend(ws, state));
    const send = ws.send.bind(ws);
    ws.send = ((data: Parameters<WebSocket['send']>[0], ...rest: unknown[]) => {
      if (this.mayQueue(ws)) (send as (...args: unknown[]) => void)(data, ...rest);
    }) as WebSocket['send'];
  }

  /** One message's token; over the rate the client is told and dropped. */
  spend(ws: WebSocket, state: { tokens: number; refilled: number }): void {
    const now = Date.now();
    const rate = this.limits.messagesPerSecond;
    state.tokens = Math.min(rate * 2, state.tokens + ((now - state.refilled) * rate) / 1000) - 1;
    state.refilled = now;
    if (state.tokens < 0 && ws.readyState === ws.OPEN) {
      const reason = `more than ${rate} messages per second`;
      this.logOf(ws).info({ reason }, 'connection dropped');
      ws.close(CLOSE.policy, reason);
    }
  }

  /** Whether a frame may be queued on the socket; a client that does not read is dropped instead. */
  mayQueue(ws: WebSocket): boolean {
    if (ws.bufferedAmount <= this.limits.maxBufferedBytes) return true;
    if (ws.readyState === ws.OPEN) {
      const reason = `more than ${this.limits.maxBufferedBytes} unsent bytes`;
      this.logOf(ws).info({ reason }, 'connection dropped');
    }
    ws.terminate();
    return false;
  }

  /**
   * One keepalive for all the `PodSocket`s in `sockets` instead of two timers per connection: a
   * socket quiet for `pingMs` gets the text frame `PING`, and one that sends nothing within
   * `pongWaitMs` after it is terminated. Any frame from the client counts as a sign of life. Checked
   * every `tickMs`, so a PING goes within `tickMs` after the quiet time, and so does a termination.
   */
  keepAlive(
    sockets: Iterable<WebSocket>,
    { pingMs, pongWaitMs, tickMs = 1_000 }: { pingMs: number; pongWaitMs: number; tickMs?: number },
  ): () => void {
    const timer = setInterval(() => {
      const now = Date.now();
      for (const ws of sockets) {
        if (!(ws instanceof PodSocket) || ws.readyState !== ws.OPEN) continue;
        if (ws.pinged === 0) {
          if (now - ws.heard >= pingMs) {
            ws.pinged = now;
            ws.send('PING');
          }
        } else if (now - ws.pinged >= pongWaitMs) ws.terminate();
      }
    }, tickMs);
    timer.unref();
    return () => clearInterval(timer);
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

/**
 * The pod's WebSocket class (`new WebSocketServer({ WebSocket: PodSocket })`): the state of its
 * limits and keepalive lives in fields, and the rate limit and the unsent-bytes cap are one shared
 * listener and one `send` on the prototype, so an idle connection carries no closures or timers
 * for them.
 */
export class PodSocket extends WebSocket {
  guardedBy: Connections | null = null;
  /** Message-rate tokens left, and when they were last refilled (ms). */
  tokens = 0;
  refilled = 0;
  /** When the client was last heard (ms), and when its unanswered PING went (0: none). */
  heard = 0;
  pinged = 0;

  override send(
    data: Parameters<WebSocket['send']>[0],
    options?: Parameters<WebSocket['send']>[1] | ((err?: Error) => void),
    cb?: (err?: Error) => void,
  ): void {
    if (this.guardedBy && !this.guardedBy.mayQueue(this)) return;
    if (typeof options === 'function') super.send(data, options);
    else super.send(data, options ?? {}, cb);
  }
}

function onPodSocketMessage(this: WebSocket): void {
  if (!(this instanceof PodSocket)) return;
  this.heard = Date.now();
  this.pinged = 0;
  this.guardedBy?.spend(this, this);
}

/**
 * What of an upgrade request a tRPC connection keeps: its URL, Host header and client address (the
 * adapter reads the URL for `connectionParams=1`, the context the address). The adapter's closures
 * hold the request for the connection's whole life; the `IncomingMessage` itself would keep its
 * headers, raw headers and stream state alive per idle connection.
 */
export function upgradeRequest(req: IncomingMessage): IncomingMessage {
  const kept = {
    method: req.method,
    url: req.url,
    headers: { host: req.headers.host },
    socket: { remoteAddress: req.socket.remoteAddress },
  };
  // Only these fields are read after the upgrade (tRPC's createURL, addressOf, onError's logging).
  return kept as unknown as IncomingMessage;
}
