import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  appRouter,
  type ConnectionRef,
  type Device,
  FleetError,
  type FleetErrorCode,
  type FleetService,
  type Offer,
  type OffersOptions,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
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
  /** The final report that finished the current attempt, to answer repeats as duplicates. */
  finalStatus: ReportInput['status'] | null;
}

interface Subscriber {
  deviceId: string;
  push: (offer: Offer) => void;
}

const absent = (): never => {
  throw new FleetError('UNAVAILABLE', 'not in the test pod');
};

/** The fleet behind one or more test pods; only the device side of the port is implemented. */
export class FakeFleet implements FleetService {
  readonly registrations: { deviceId: string; input: RegisterInput }[] = [];
  readonly reports: { deviceId: string; input: ReportInput }[] = [];
  readonly deliveries = new Map<string, FakeDelivery>();
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
    this.deliveries.set(deliveryId, { deviceId, offer, state: 'offered', finalStatus: null });
    this.push(deviceId, offer);
    return offer;
  }

  /** Sends the current offer of a delivery again, as is (same offer id). */
  resend(deliveryId: string): void {
    const delivery = this.deliveries.get(deliveryId);
    if (delivery) this.push(delivery.deviceId, delivery.offer);
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
    const now = Date.now();
    return { id: deviceId, ...input, firstSeenAt: now, lastSeenAt: now, online: true, node: 'test-pod' };
  }

  /** Open offers of the device (minus the one it saw last), then each one offered, until aborted. */
  async *deviceOffers(deviceId: string, { lastEventId, signal }: OffersOptions): AsyncGenerator<Offer> {
    const queue = [...this.deliveries.values()]
      .filter((d) => d.deviceId === deviceId && d.finalStatus === null && d.offer.offerId !== lastEventId)
      .map((d) => d.offer);
    let wake = (): void => {};
    const subscriber: Subscriber = {
      deviceId,
      push: (offer) => {
        queue.push(offer);
        wake();
      },
    };
    this.subscribers.add(subscriber);
    signal.addEventListener('abort', () => wake(), { once: true });
    try {
      while (!signal.aborted) {
        const offer = queue.shift();
        if (offer) yield offer;
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
    if (delivery.finalStatus !== null) {
      if (delivery.finalStatus === input.status) return result(true);
      throw new FleetError('DELIVERY_FINISHED', `delivery is ${delivery.state}`);
    }
    if (delivery.state === input.status) return result(true);
    delivery.state = input.status;
    if (input.status === 'succeeded' || input.status === 'failed') delivery.finalStatus = input.status;
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
  readonly listDevices = absent;
  readonly getDevice = absent;
  readonly stats = absent;

  private push(deviceId: string, offer: Offer): void {
    for (const subscriber of this.subscribers) if (subscriber.deviceId === deviceId) subscriber.push(offer);
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
