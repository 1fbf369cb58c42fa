import { type DeviceEvent, eventIdOf } from '@camfleet/contracts';
import { Wakeable } from './wakeable.js';

/**
 * One device's offer subscription on this pod. It holds at most one pending event (a device has
 * one active delivery, and a newer event supersedes an unsent older one), so a slow consumer
 * cannot grow memory.
 */
export class DeviceSession {
  private pending: DeviceEvent | null = null;
  private readonly consumer = new Wakeable();
  /** Set while a claim runs; `again` asks for one more pass when it ends. */
  evaluating = false;
  /** The running claim is part of a batch (a fan-out): another hint for it brings nothing new. */
  batched = false;
  again = false;
  /** A rollout whose slot was acquired for the device while a claim ran: the next pass uses it. */
  grant = '';
  /** Its connection closed: it no longer speaks for the device (its subscription ends soon). */
  gone = false;
  /** Claim passes started so far (the reconcile tells a claim in progress from a stray park). */
  passes = 0;

  constructor(
    readonly deviceId: string,
    readonly connectionId: string,
    /** Last event id the device saw: never sent twice in a row. */
    private lastEventId: string | null,
  ) {}

  push(event: DeviceEvent): void {
    const id = eventIdOf(event);
    if (id === this.lastEventId) return;
    this.lastEventId = id;
    this.pending = event;
    this.consumer.wake();
  }

  events(signal: AbortSignal): AsyncGenerator<DeviceEvent> {
    return this.consumer.drain(() => this.take(), signal);
  }

  /** What was pushed and not yet taken (a polled device's session reads it once). */
  take(): DeviceEvent | null {
    const event = this.pending;
    this.pending = null;
    return event;
  }
}

/**
 * The devices whose offer subscriptions this pod holds. A device may briefly have two (a reconnect
 * racing the old connection's close, in either order): the newest open one is the device's, and
 * when it ends an older one still open takes over.
 */
export class DeviceSessions {
  private readonly byDevice = new Map<string, DeviceSession[]>();

  open(deviceId: string, connectionId: string, lastEventId: string | null): DeviceSession {
    const session = new DeviceSession(deviceId, connectionId, lastEventId);
    this.byDevice.set(deviceId, [...(this.byDevice.get(deviceId) ?? []), session]);
    return session;
  }

  close(session: DeviceSession): void {
    const rest = (this.byDevice.get(session.deviceId) ?? []).filter((s) => s !== session);
    if (rest.length > 0) this.byDevice.set(session.deviceId, rest);
    else this.byDevice.delete(session.deviceId);
  }

  /** The device's newest session whose connection is still open. */
  get(deviceId: string): DeviceSession | undefined {
    return this.byDevice.get(deviceId)?.findLast((s) => !s.gone);
  }

  /** The connection closed: its sessions stop speaking for the device at once. */
  markGone(deviceId: string, connectionId: string): void {
    for (const s of this.byDevice.get(deviceId) ?? []) if (s.connectionId === connectionId) s.gone = true;
  }

  get size(): number {
    return this.byDevice.size;
  }

  deviceIds(): string[] {
    return [...this.byDevice.keys()];
  }
}
