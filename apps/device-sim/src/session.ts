import type { DeviceEvent as ServerEvent } from '@camfleet/contracts';
import type { DeviceAuth } from './auth.js';
import { Connection } from './connection.js';
import { type DeviceContext, pause } from './context.js';
import type { DeviceOptions, DeviceState } from './device.js';
import { nextBlipMs } from './faults.js';
import { OfferFeed } from './feed.js';
import { classifyFailure, describeFailure, isCredentialFailure } from './outcome.js';
import { ReconnectPolicy } from './reconnect.js';

export interface SessionOptions
  extends Pick<DeviceOptions, 'urls' | 'model' | 'labels' | 'connectTimeoutMs' | 'localAddress'> {
  /** An offer or a cancel pushed on the offers subscription. */
  onServerEvent: (event: ServerEvent) => void;
}

/** How the device words a refused call when it stops: the start of its message. */
interface Refusal {
  credentials: string;
  final: string;
}

/**
 * One camera's sessions (spec: "Session and auth"). One connection at a time, to the pods in
 * fail-over order: enroll with a token for a secret, register on every session, subscribe to offers
 * after `lastEventId`, and on a loss reconnect with backoff (or stop for good on a refusal, on a
 * 4002 replacement, or on a 4001 whose re-check fails).
 */
export class Session {
  private currentState: DeviceState = 'new';
  private rejectionMessage: string | null = null;
  private connection: Connection | null = null;
  private registered = false;
  private urlIndex = 0;
  private readonly readyWaiters = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly reconnects: ReconnectPolicy;
  private readonly feed: OfferFeed;

  /** `lifetime`: the device's, aborted here when it stops for good. */
  constructor(
    private readonly ctx: DeviceContext,
    private readonly lifetime: AbortController,
    private readonly auth: DeviceAuth,
    private readonly options: SessionOptions,
  ) {
    this.reconnects = new ReconnectPolicy(ctx.backoff);
    this.feed = new OfferFeed(ctx, options.onServerEvent);
  }

  get state(): DeviceState {
    return this.currentState;
  }

  /** Why it stopped for good (refused credentials, replaced, a fatal refusal), if it did. */
  get rejection(): string | null {
    return this.rejectionMessage;
  }

  get url(): string | null {
    return this.connection?.url ?? null;
  }

  /** Registered on a live connection. */
  get connected(): boolean {
    return this.registered && this.connection !== null;
  }

  /** Reconnects (and network blips) waiting for their time. */
  get scheduled(): number {
    return this.timers.size;
  }

  /** The pod it is connected to, else the one it connects to next. */
  baseUrl(): string {
    return this.connection?.url ?? this.nextUrl();
  }

  start(): void {
    if (this.currentState !== 'new') return;
    this.connect();
  }

  /** Closes the connection; the device's work ends with its lifetime. */
  async stop(): Promise<void> {
    if (this.isOver()) return;
    this.currentState = 'stopped';
    await this.shutdown();
  }

  /** Simulates a crash: drop the connection, forget the subscription position, come back later. */
  crash(): void {
    const connection = this.connection;
    if (!connection || this.isOver()) return;
    this.ctx.counters.crashes++;
    this.reconnects.down(this.ctx.faults.crashDowntimeMs);
    this.feed.forget();
    this.ctx.emit({ type: 'crash', deviceId: this.ctx.id });
    connection.drop('simulated crash');
  }

  /** Simulates a network blip: drop the connection and fail over at once. */
  disconnect(): void {
    this.connection?.drop('simulated disconnect');
  }

  /**
   * Restarts the camera: goes away for `downtimeMs`, then reconnects and registers with the version
   * it runs then. A restart forgets the subscription position, as a crash does.
   */
  restart(downtimeMs: number, reason: string): void {
    this.feed.forget();
    const connection = this.connection;
    // Already offline: the pending reconnect registers with the version it runs now.
    if (!connection) return;
    this.reconnects.down(downtimeMs);
    connection.drop(reason);
  }

  /** The current registered connection, waiting for one if need be; null once `signal` aborts. */
  async ready(signal: AbortSignal): Promise<Connection | null> {
    while (!signal.aborted) {
      if (this.registered && this.connection?.alive) return this.connection;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.readyWaiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.readyWaiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    return null;
  }

  /** The server refused who the device is: it stops for good. */
  reject(message: string): void {
    this.end('rejected', message);
  }

  private isOver(): boolean {
    return (
      this.currentState === 'stopped' ||
      this.currentState === 'rejected' ||
      this.currentState === 'replaced' ||
      this.currentState === 'failed'
    );
  }

  private nextUrl(): string {
    return this.options.urls[this.urlIndex % this.options.urls.length]!;
  }

  /**
   * Opens a session: with the device's secret if it has one (then registers), else with the
   * enrollment token (then enrolls, and opens a session with the secret it got).
   */
  private connect(): void {
    if (this.isOver()) return;
    const url = this.nextUrl();
    const credentials = this.auth.credentials();
    if (credentials === null) {
      this.reject('no credentials: no secret for this device and no enrollment token');
      return;
    }
    const enrolling = 'enrollToken' in credentials;
    this.currentState = enrolling ? 'enrolling' : 'connecting';
    const connection: Connection = new Connection({
      url,
      deviceId: this.ctx.id,
      credentials,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
      ...(this.options.localAddress ? { localAddress: this.options.localAddress } : {}),
      onOpen: () => {
        // Sessions only: an enrollment connection is not one.
        if (!enrolling) this.ctx.counters.connects++;
      },
      onLost: (reason, closeCode) => this.handleLost(connection, reason, closeCode),
      onRejected: (message) => this.reject(message),
    });
    this.connection = connection;
    void (enrolling ? this.enroll(connection) : this.establish(connection));
  }

  /**
   * Makes a session call (enroll, register), retrying while the server is briefly unable. A refusal
   * stops the device. Null once it gave up, or the connection is no longer the current one.
   */
  private async call<T>(
    connection: Connection,
    refusal: Refusal,
    run: () => Promise<T>,
  ): Promise<{ value: T } | null> {
    for (let attempt = 0; ; attempt++) {
      if (!this.isCurrent(connection)) return null;
      try {
        return { value: await run() };
      } catch (error) {
        if (!this.isCurrent(connection)) return null;
        if (isCredentialFailure(error)) {
          this.reject(`${refusal.credentials}${describeFailure(error)}`);
          return null;
        }
        if (classifyFailure(error) === 'final') {
          this.end('failed', `${refusal.final}${describeFailure(error)}`);
          return null;
        }
        if (!(await pause(this.ctx.backoff(attempt), this.lifetime.signal))) return null;
      }
    }
  }

  /** Trades the enrollment token for the device's own secret, keeps it, and reconnects with it. */
  private async enroll(connection: Connection): Promise<void> {
    const refusal = { credentials: 'enrollment refused: ', final: 'enrollment refused: ' };
    const enrolled = await this.call(connection, refusal, () => connection.client.device.enroll.mutate());
    if (enrolled === null) return;
    // Shown once: kept whatever happens next (lost connection, stopped device).
    await this.auth.adopt(enrolled.value.secret);
    // Lost meanwhile: the pending reconnect uses the secret.
    if (!this.isCurrent(connection)) return;
    this.connection = null;
    await connection.close();
    this.connect();
  }

  /** Registers (retrying while the server is briefly unable), then subscribes to offers. */
  private async establish(connection: Connection): Promise<void> {
    const refusal = { credentials: '', final: 'register refused: ' };
    const registered = await this.call(connection, refusal, () =>
      connection.client.device.register.mutate({
        model: this.options.model,
        firmwareVersion: this.ctx.firmware.version,
        labels: this.options.labels ?? {},
      }),
    );
    if (registered === null || !this.isCurrent(connection)) return;
    this.registered = true;
    this.reconnects.registered();
    this.currentState = 'online';
    this.ctx.emit({ type: 'connected', deviceId: this.ctx.id, url: connection.url });
    for (const wake of this.readyWaiters) wake();
    this.readyWaiters.clear();
    this.scheduleBlip(connection);
    this.feed.subscribe(connection, {
      current: () => this.isCurrent(connection),
      refused: (message) => this.reject(message),
      retry: (delayMs) => void this.reestablish(connection, delayMs),
    });
  }

  /** Re-registers too: a subscription refused as NOT_FOUND means the server forgot us. */
  private async reestablish(connection: Connection, delayMs: number): Promise<void> {
    this.registered = false;
    if (!(await pause(delayMs, this.lifetime.signal))) return;
    void this.establish(connection);
  }

  private isCurrent(connection: Connection): boolean {
    return this.connection === connection && connection.alive && !this.isOver();
  }

  private handleLost(connection: Connection, reason: string, closeCode: number | null): void {
    if (this.connection !== connection) return;
    this.connection = null;
    this.registered = false;
    if (this.isOver()) return;
    const next = this.reconnects.afterLoss(closeCode);
    if (next.kind === 'stop') {
      this.end(next.state, reason);
      return;
    }
    this.currentState = 'offline';
    this.ctx.counters.reconnects++;
    this.ctx.emit({ type: 'disconnected', deviceId: this.ctx.id, url: connection.url, reason });
    this.urlIndex++;
    this.later(next.delayMs, () => this.connect());
  }

  /** Stops for good: refused, replaced by a newer connection (4002), or refused beyond retrying. */
  private end(state: 'rejected' | 'replaced' | 'failed', message: string): void {
    if (this.isOver()) return;
    this.currentState = state;
    this.rejectionMessage = message;
    if (state === 'replaced') this.ctx.counters.replaced++;
    this.ctx.emit({ type: state === 'failed' ? 'fatal' : state, deviceId: this.ctx.id, message });
    void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.lifetime.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.readyWaiters.clear();
    const connection = this.connection;
    this.connection = null;
    this.registered = false;
    await connection?.close();
  }

  /** A simulated network blip (--disconnect-rate), drawn anew on every session. */
  private scheduleBlip(connection: Connection): void {
    const delay = nextBlipMs(this.ctx.faults, this.ctx.random);
    if (delay === null) return;
    this.later(delay, () => {
      if (this.isCurrent(connection)) connection.drop('simulated disconnect');
    });
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }
}
