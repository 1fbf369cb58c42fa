import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  appRouter,
  type ConnectionRef,
  type Device,
  type DeviceEvent,
  eventIdOf,
  FleetError,
  type FleetErrorCode,
  type FleetService,
  type Offer,
  type OffersOptions,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
  type ReportStatus,
} from '@camfleet/contracts';
import { TRPCError } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';

/**
 * A test pod for device tests: the real `appRouter` served by tRPC's own WebSocket adapter, as the
 * server does, over `FakeFleet`, a scripted in-memory FleetService that tests drive directly.
 * Not a fleet implementation: deliveries move only when a test offers them.
 */

type State = ReportResult['state'];

interface FakeDelivery {
  deviceId: string;
  offer: Offer;
  state: State;
  /** The current attempt is over (succeeded, failed, canceled): reports other than a repeat are refused. */
  over: boolean;
  /** The last report applied to the current attempt, to answer a repeat of it as a duplicate. */
  lastStatus: ReportStatus | null;
  /** A cancel was requested for the current attempt: re-sent with the offer on resubscribe. */
  cancelReason: string | null;
}

interface Subscriber {
  deviceId: string;
  push: (event: DeviceEvent) => void;
}

/** The delivery state a report moves to. */
const STATE_OF: Record<ReportStatus, State> = {
  downloading: 'downloading',
  installing: 'installing',
  installed: 'verifying',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
};

const OVER: readonly State[] = ['succeeded', 'failed', 'canceled'];

const absent = (): never => {
  throw new FleetError('UNAVAILABLE', 'not in the test pod');
};

/** The fleet behind one or more test pods; only the device side of the port is implemented. */
export class FakeFleet implements FleetService {
  readonly registrations: { deviceId: string; input: RegisterInput }[] = [];
  readonly reports: { deviceId: string; input: ReportInput }[] = [];
  readonly deliveries = new Map<string, FakeDelivery>();
  /** Attempts whose device came back from its restart on another version than the patch's. */
  readonly rollbacks: { deliveryId: string; attempt: number; firmwareVersion: string }[] = [];
  /** Open `device.offers` subscriptions. */
  readonly subscribers = new Set<Subscriber>();
  /** Fail this many upcoming register calls with UNAVAILABLE (a Redis restart). */
  failRegisters = 0;
  /** Refuse reports with this domain error instead of applying them, when set. */
  reportFailure: { code: FleetErrorCode; message: string } | null = null;
  /** The ack timeout new offers carry. */
  ackTimeoutMs = 60_000;
  private seq = 0;

  /** `token` is the enrollment token the pods accept. */
  constructor(readonly token: string) {}

  /** Offers attempt `attempt` of delivery `deliveryId` to a device, live if it is subscribed. */
  offer(deviceId: string, deliveryId: string, attempt = 1, version = '2.0.0'): Offer {
    const offer: Offer = {
      offerId: `off-${++this.seq}`,
      deliveryId,
      rolloutId: 'ro_test',
      attempt,
      patch: { id: 'pat_test', name: 'patch', version, notes: '', artifact: null },
      ackTimeoutMs: this.ackTimeoutMs,
      deadlineAt: Date.now() + 60_000,
    };
    this.deliveries.set(deliveryId, {
      deviceId,
      offer,
      state: 'offered',
      over: false,
      lastStatus: null,
      cancelReason: null,
    });
    this.push(deviceId, { type: 'offer', offer });
    return offer;
  }

  /** Sends the current offer of a delivery again, as is (same offer id). */
  resend(deliveryId: string): void {
    const delivery = this.deliveries.get(deliveryId);
    if (delivery) this.push(delivery.deviceId, { type: 'offer', offer: delivery.offer });
  }

  /**
   * Asks a device to stop an attempt (default: the delivery's current one). Deliveries need not
   * exist: a cancel for one the device never saw is how tests send it something unknown.
   */
  cancel(deviceId: string, deliveryId: string, attempt?: number, reason = 'rollout canceled'): void {
    const delivery = this.deliveries.get(deliveryId);
    const target = attempt ?? delivery?.offer.attempt ?? 1;
    if (delivery && delivery.offer.attempt === target) delivery.cancelReason = reason;
    this.push(deviceId, { type: 'cancel', deliveryId, attempt: target, reason });
  }

  stateOf(deliveryId: string): State | undefined {
    return this.deliveries.get(deliveryId)?.state;
  }

  reportsOf(deliveryId: string): ReportInput[] {
    return this.reports.filter((r) => r.input.deliveryId === deliveryId).map((r) => r.input);
  }

  async registerDevice(
    deviceId: string,
    _connection: ConnectionRef | null,
    input: RegisterInput,
  ): Promise<Device> {
    if (this.failRegisters > 0) {
      this.failRegisters--;
      throw new FleetError('UNAVAILABLE', 'redis is restarting');
    }
    this.registrations.push({ deviceId, input });
    // What the server does for a delivery waiting on the restart: the version proves it, or not.
    for (const delivery of this.deliveries.values()) {
      if (delivery.deviceId !== deviceId || delivery.state !== 'verifying') continue;
      delivery.over = true;
      if (input.firmwareVersion === delivery.offer.patch.version) {
        delivery.state = 'succeeded';
      } else {
        delivery.state = 'failed';
        const { deliveryId, attempt } = delivery.offer;
        this.rollbacks.push({ deliveryId, attempt, firmwareVersion: input.firmwareVersion });
      }
    }
    const now = Date.now();
    return { id: deviceId, ...input, firstSeenAt: now, lastSeenAt: now, online: true, node: 'test-pod' };
  }

  /**
   * Open offers of the device, each with its pending cancel request if any (minus the event it saw
   * last), then each event as it happens, until aborted.
   */
  async *deviceOffers(deviceId: string, { lastEventId, signal }: OffersOptions): AsyncGenerator<DeviceEvent> {
    const queue: DeviceEvent[] = [];
    for (const d of this.deliveries.values()) {
      if (d.deviceId !== deviceId || d.over) continue;
      queue.push({ type: 'offer', offer: d.offer });
      if (d.cancelReason !== null) {
        const { deliveryId, attempt } = d.offer;
        queue.push({ type: 'cancel', deliveryId, attempt, reason: d.cancelReason });
      }
    }
    const skip = queue.findIndex((event) => eventIdOf(event) === lastEventId);
    if (skip >= 0) queue.splice(skip, 1);
    let wake = (): void => {};
    const subscriber: Subscriber = {
      deviceId,
      push: (event) => {
        queue.push(event);
        wake();
      },
    };
    this.subscribers.add(subscriber);
    signal.addEventListener('abort', () => wake(), { once: true });
    try {
      while (!signal.aborted) {
        const event = queue.shift();
        if (event) yield event;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.subscribers.delete(subscriber);
    }
  }

  async report(deviceId: string, input: ReportInput): Promise<ReportResult> {
    this.reports.push({ deviceId, input });
    if (this.reportFailure) throw new FleetError(this.reportFailure.code, this.reportFailure.message);
    const delivery = this.deliveries.get(input.deliveryId);
    if (!delivery || delivery.deviceId !== deviceId) throw new FleetError('NOT_FOUND', 'no such delivery');
    if (input.attempt !== delivery.offer.attempt) {
      throw new FleetError('STALE_ATTEMPT', `attempt ${delivery.offer.attempt} is current`);
    }
    const result = (duplicate: boolean): ReportResult => ({
      deliveryId: input.deliveryId,
      attempt: input.attempt,
      state: delivery.state,
      duplicate,
    });
    if (delivery.over) {
      if (delivery.lastStatus === input.status) return result(true);
      throw new FleetError('DELIVERY_FINISHED', `delivery is ${delivery.state}`);
    }
    const next = STATE_OF[input.status];
    if (delivery.state === next) return result(true);
    delivery.state = next;
    delivery.lastStatus = input.status;
    delivery.over = OVER.includes(next);
    return result(false);
  }

  readonly publishPatch = absent;
  readonly listPatches = absent;
  readonly getPatch = absent;
  readonly createRollout = absent;
  readonly listRollouts = absent;
  readonly getRollout = absent;
  readonly watchRollout = absent;
  readonly cancelRollout = absent;
  readonly pauseRollout = absent;
  readonly resumeRollout = absent;
  readonly advanceRollout = absent;
  readonly listEvents = absent;
  readonly followEvents = absent;
  readonly listDevices = absent;
  readonly getDevice = absent;
  readonly stats = absent;

  private push(deviceId: string, event: DeviceEvent): void {
    for (const subscriber of this.subscribers) if (subscriber.deviceId === deviceId) subscriber.push(event);
  }
}

/** One test pod: an HTTP server with tRPC's WebSocket endpoint at /trpc, authenticating devices. */
export class FakePod {
  /** WebSocket connections accepted so far (refused ones included). */
  opens = 0;

  private constructor(
    readonly fleet: FakeFleet,
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    private readonly handler: ReturnType<typeof applyWSSHandler>,
    readonly url: string,
  ) {}

  static async start(fleet: FakeFleet, port = 0): Promise<FakePod> {
    const http = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server: http, path: '/trpc' });
    const handler = applyWSSHandler({
      wss,
      router: appRouter,
      // What the server's Authenticator does for a device: refuse the whole connection.
      createContext: ({ info }) => {
        const { deviceId, token } = info.connectionParams ?? {};
        if (!deviceId || token !== fleet.token) {
          throw new TRPCError({ code: 'UNAUTHORIZED', message: 'device credentials refused' });
        }
        return { principal: { kind: 'device', deviceId }, fleet, connection: { connectionId: randomUUID() } };
      },
    });
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    const { port: bound } = http.address() as AddressInfo;
    const pod = new FakePod(fleet, http, wss, handler, `http://127.0.0.1:${bound}`);
    wss.on('connection', () => pod.opens++);
    return pod;
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.wss.clients.size;
  }

  /** Cuts every connection, as a pod crash would (the pod itself keeps listening). */
  dropAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  /** What a draining pod does: asks every client to reconnect (elsewhere). */
  broadcastReconnect(): void {
    this.handler.broadcastReconnectNotification();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
