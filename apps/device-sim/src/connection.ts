import {
  createDeviceClient,
  type DeviceCredentials,
  type FleetClient,
  jitteredBackoff,
  type WSClient,
} from '@camfleet/client';
import { isReconnectFrame, rejectionOfFrame } from './outcome.js';

/** WebSocket close codes the server uses to tell a device something. */
export const CLOSE_CODES = {
  /** Its credentials were revoked or rotated: check them once more, do not retry blindly. */
  credentials: 4001,
  /** A newer connection of the same device replaced this one: do not reconnect. */
  replaced: 4002,
} as const;

export interface ConnectionOptions {
  url: string;
  deviceId: string;
  /** Its own secret, or an enrollment token (then it may only enroll). */
  credentials: DeviceCredentials;
  /** Give up on a socket that has not opened after this long. */
  connectTimeoutMs: number;
  /** The local (source) address to bind the socket to. */
  localAddress?: string;
  onOpen: () => void;
  /**
   * The connection is gone for good (closed, failed to open, timed out or dropped). Called once.
   * `closeCode`: the code the server closed the socket with, if it did.
   */
  onLost: (reason: string, closeCode: number | null) => void;
  /** The server refused the credentials. `onLost` is not called after this. */
  onRejected: (message: string) => void;
}

/**
 * One WebSocket session of a device against one pod. It never reconnects by itself: when its
 * socket goes, it reports `onLost` once and is dead; the device then opens a new one, to the next
 * pod, a draining pod's "reconnect" notice included.
 */
export class Connection {
  readonly client: FleetClient;
  private readonly wsClient: WSClient;
  private ended = false;
  private opened = false;
  /** The close code of the socket, once it closed. */
  private closeCode: number | null = null;
  private readonly connectTimer: NodeJS.Timeout;

  constructor(private readonly options: ConnectionOptions) {
    const { client, wsClient } = createDeviceClient({
      baseUrl: options.url,
      deviceId: options.deviceId,
      credentials: options.credentials,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      retryDelayMs: jitteredBackoff(100, 2_000),
      onRejected: (message) => this.reject(message),
      onOpen: () => this.handleOpen(),
      onClose: () => this.handleClose(),
    });
    this.client = client;
    this.wsClient = wsClient;
    this.connectTimer = setTimeout(() => {
      if (!this.opened) this.lose('connect timeout');
    }, options.connectTimeoutMs);
  }

  get url(): string {
    return this.options.url;
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** Drops the socket abruptly, failing calls in flight (a crash or a network blip). */
  drop(reason: string): void {
    this.lose(reason);
  }

  /** Closes for good, without reporting a loss. */
  async close(): Promise<void> {
    this.ended = true;
    clearTimeout(this.connectTimer);
    await Promise.race([this.wsClient.close(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  }

  private handleOpen(): void {
    if (this.ended) return;
    this.opened = true;
    clearTimeout(this.connectTimer);
    // The client library only spots plain rejection frames; also catch superjson-wrapped ones.
    // And a draining pod's "reconnect" notice: leave it for the next pod rather than let tRPC
    // reconnect to the same one.
    const ws = this.wsClient.connection?.ws;
    ws?.addEventListener('message', (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      const message = rejectionOfFrame(event.data);
      if (message !== null) this.reject(message);
      else if (isReconnectFrame(event.data)) this.lose('server asked to reconnect');
    });
    ws?.addEventListener('close', (event: { code: number }) => {
      this.closeCode = event.code;
    });
    this.options.onOpen();
  }

  private handleClose(): void {
    // A socket retired by a server-requested reconnect closing while its successor is open.
    if (this.ended || this.wsClient.connection?.state === 'open') return;
    // tRPC tells us before our own listener sees the close code: decide once the event is through.
    queueMicrotask(() => {
      if (this.ended || this.wsClient.connection?.state === 'open') return;
      this.lose(describeClose(this.closeCode), this.closeCode);
    });
  }

  private reject(message: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.connectTimer);
    void this.wsClient.close();
    this.options.onRejected(message);
  }

  private lose(reason: string, closeCode: number | null = null): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.connectTimer);
    const ws = this.wsClient.connection?.ws;
    // Stop tRPC's own reconnect first, then cut the socket so calls in flight fail now.
    void this.wsClient.close();
    if (ws && ws.readyState !== ws.CLOSED && ws.readyState !== ws.CLOSING)
      ws.close(4000, reason.slice(0, 100));
    this.options.onLost(reason, closeCode);
  }
}

function describeClose(code: number | null): string {
  switch (code) {
    case CLOSE_CODES.credentials:
      return `closed by the server: credentials revoked or rotated (${code})`;
    case CLOSE_CODES.replaced:
      return `closed by the server: replaced by a newer connection of this device (${code})`;
    default:
      return 'connection closed';
  }
}
