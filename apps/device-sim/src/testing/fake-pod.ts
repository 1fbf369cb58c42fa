import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetErrorCode, Offer, RegisterInput, ReportInput, ReportResult } from '@camfleet/contracts';
import superjson from 'superjson';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * A tiny stand-in for a camfleet pod, for device tests: it speaks the tRPC WebSocket protocol
 * (superjson, tracked subscription events, `id: null` rejection frames) for the three device
 * procedures, over an in-memory fleet that tests drive directly. Not a server implementation:
 * deliveries move only when a test offers them.
 */

type State = ReportResult['state'];

interface FakeDelivery {
  deviceId: string;
  offer: Offer;
  state: State;
  /** The final report that finished the current attempt, to answer repeats as duplicates. */
  finalStatus: ReportInput['status'] | null;
}

type Failure = { code: FleetErrorCode | 'INTERNAL_SERVER_ERROR'; message: string };

const TRPC_CODE: Partial<Record<Failure['code'], { trpc: string; rpc: number; http: number }>> = {
  NOT_FOUND: { trpc: 'NOT_FOUND', rpc: -32004, http: 404 },
  CONFLICT: { trpc: 'CONFLICT', rpc: -32009, http: 409 },
  STALE_ATTEMPT: { trpc: 'CONFLICT', rpc: -32009, http: 409 },
  DELIVERY_FINISHED: { trpc: 'CONFLICT', rpc: -32009, http: 409 },
  INVALID_TRANSITION: { trpc: 'CONFLICT', rpc: -32009, http: 409 },
  UNAUTHORIZED: { trpc: 'UNAUTHORIZED', rpc: -32001, http: 401 },
  FORBIDDEN: { trpc: 'FORBIDDEN', rpc: -32003, http: 403 },
  UNAVAILABLE: { trpc: 'SERVICE_UNAVAILABLE', rpc: -32603, http: 503 },
  INTERNAL_SERVER_ERROR: { trpc: 'INTERNAL_SERVER_ERROR', rpc: -32603, http: 500 },
};

class FailureError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

function errorShape(failure: Failure): Record<string, unknown> {
  const code = TRPC_CODE[failure.code] ?? { trpc: 'BAD_REQUEST', rpc: -32600, http: 400 };
  const fleetCode = failure.code === 'INTERNAL_SERVER_ERROR' ? null : failure.code;
  return {
    message: failure.message,
    code: code.rpc,
    data: { code: code.trpc, httpStatus: code.http, fleetCode, zodIssues: null },
  };
}

interface Subscriber {
  deviceId: string;
  send: (offer: Offer) => void;
}

/** The shared state behind one or more fake pods. */
export class FakeFleet {
  readonly registrations: { deviceId: string; input: RegisterInput }[] = [];
  readonly reports: { deviceId: string; input: ReportInput }[] = [];
  readonly deliveries = new Map<string, FakeDelivery>();
  readonly subscribers = new Set<Subscriber>();
  /** Fail this many upcoming register calls with UNAVAILABLE (a Redis restart). */
  failRegisters = 0;
  /** Answer reports with this instead of applying them, when set. */
  reportFailure: Failure | null = null;
  private seq = 0;

  constructor(readonly token: string) {}

  /** Offers attempt `attempt` of delivery `deliveryId` to a device, live if it is subscribed. */
  offer(deviceId: string, deliveryId: string, attempt = 1, version = '2.0.0'): Offer {
    const offer: Offer = {
      offerId: `off-${++this.seq}`,
      deliveryId,
      rolloutId: 'ro_test',
      attempt,
      patch: { id: 'pat_test', name: 'patch', version, notes: '', artifact: null },
      ackTimeoutMs: 60_000,
      deadlineAt: Date.now() + 60_000,
    };
    this.deliveries.set(deliveryId, { deviceId, offer, state: 'offered', finalStatus: null });
    for (const subscriber of this.subscribers) if (subscriber.deviceId === deviceId) subscriber.send(offer);
    return offer;
  }

  /** Sends the current offer of a delivery again, as is (same offer id). */
  resend(deliveryId: string): void {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery) return;
    for (const subscriber of this.subscribers) {
      if (subscriber.deviceId === delivery.deviceId) subscriber.send(delivery.offer);
    }
  }

  stateOf(deliveryId: string): State | undefined {
    return this.deliveries.get(deliveryId)?.state;
  }

  reportsOf(deliveryId: string): ReportInput[] {
    return this.reports.filter((r) => r.input.deliveryId === deliveryId).map((r) => r.input);
  }

  register(deviceId: string, input: RegisterInput): { id: string } {
    if (this.failRegisters > 0) {
      this.failRegisters--;
      throw new FailureError({ code: 'UNAVAILABLE', message: 'redis is restarting' });
    }
    this.registrations.push({ deviceId, input });
    return { id: deviceId };
  }

  /** Open offers of a device a new subscription starts with, minus the one it saw last. */
  current(deviceId: string, lastEventId: string | null): Offer[] {
    return [...this.deliveries.values()]
      .filter((d) => d.deviceId === deviceId && d.finalStatus === null && d.offer.offerId !== lastEventId)
      .map((d) => d.offer);
  }

  report(deviceId: string, input: ReportInput): ReportResult {
    this.reports.push({ deviceId, input });
    if (this.reportFailure) throw new FailureError(this.reportFailure);
    const delivery = this.deliveries.get(input.deliveryId);
    if (!delivery || delivery.deviceId !== deviceId) {
      throw new FailureError({ code: 'NOT_FOUND', message: 'no such delivery' });
    }
    if (input.attempt !== delivery.offer.attempt) {
      throw new FailureError({
        code: 'STALE_ATTEMPT',
        message: `attempt ${delivery.offer.attempt} is current`,
      });
    }
    const result = (state: State, duplicate: boolean): ReportResult => ({
      deliveryId: input.deliveryId,
      attempt: input.attempt,
      state,
      duplicate,
    });
    if (delivery.finalStatus !== null) {
      if (delivery.finalStatus === input.status) return result(delivery.state, true);
      throw new FailureError({ code: 'DELIVERY_FINISHED', message: `delivery is ${delivery.state}` });
    }
    if (delivery.state === input.status) return result(delivery.state, true);
    delivery.state = input.status;
    if (input.status === 'succeeded' || input.status === 'failed') delivery.finalStatus = input.status;
    return result(delivery.state, false);
  }
}

interface RpcMessage {
  id: number | string | null;
  method: string;
  params?: { path?: string; input?: unknown; lastEventId?: string };
  data?: unknown;
}

/** One fake pod: an HTTP server with the tRPC WebSocket endpoint at /trpc. */
export class FakePod {
  /** WebSocket connections accepted so far. */
  opens = 0;
  private readonly sockets = new Set<WebSocket>();

  private constructor(
    readonly fleet: FakeFleet,
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(fleet: FakeFleet, port = 0): Promise<FakePod> {
    const http = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server: http, path: '/trpc' });
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    const address = http.address() as AddressInfo;
    const pod = new FakePod(fleet, http, wss, `http://127.0.0.1:${address.port}`);
    wss.on('connection', (ws) => pod.accept(ws));
    return pod;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Cuts every connection, as a pod crash would (the pod itself keeps listening). */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** What a draining pod does: asks every client to reconnect (elsewhere). */
  broadcastReconnect(): void {
    for (const ws of this.sockets) ws.send(JSON.stringify({ id: null, method: 'reconnect' }));
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private accept(ws: WebSocket): void {
    this.opens++;
    this.sockets.add(ws);
    let deviceId: string | null = null;
    const subscriptions = new Map<RpcMessage['id'], Subscriber>();
    const send = (message: unknown): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    };
    const cleanup = (): void => {
      this.sockets.delete(ws);
      for (const subscriber of subscriptions.values()) this.fleet.subscribers.delete(subscriber);
    };
    ws.on('close', cleanup);
    ws.on('message', (raw) => {
      const text = raw.toString();
      if (text === 'PING') return ws.send('PONG');
      if (text === 'PONG') return;
      const parsed = JSON.parse(text) as RpcMessage | RpcMessage[];
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        if (message.method === 'connectionParams') {
          const params = (message.data ?? {}) as { deviceId?: string; token?: string };
          if (params.token !== this.fleet.token || !params.deviceId) {
            const failure: Failure = { code: 'UNAUTHORIZED', message: 'device credentials refused' };
            send({ id: null, error: superjson.serialize(errorShape(failure)) });
            setImmediate(() => ws.close());
            return;
          }
          deviceId = params.deviceId;
          continue;
        }
        if (deviceId === null) return;
        this.handle(message, deviceId, send, subscriptions);
      }
    });
  }

  private handle(
    message: RpcMessage,
    deviceId: string,
    send: (message: unknown) => void,
    subscriptions: Map<RpcMessage['id'], Subscriber>,
  ): void {
    const { id } = message;
    const input =
      message.params?.input === undefined ? undefined : superjson.deserialize(message.params.input as never);
    const fail = (error: unknown): void => {
      const failure =
        error instanceof FailureError
          ? error.failure
          : { code: 'INTERNAL_SERVER_ERROR' as const, message: String(error) };
      send({ id, error: superjson.serialize(errorShape(failure)) });
    };
    if (message.method === 'subscription.stop') {
      const subscriber = subscriptions.get(id);
      if (subscriber) this.fleet.subscribers.delete(subscriber);
      subscriptions.delete(id);
      send({ id, result: { type: 'stopped' } });
      return;
    }
    try {
      switch (message.params?.path) {
        case 'device.register':
          send({
            id,
            result: {
              type: 'data',
              data: superjson.serialize(this.fleet.register(deviceId, input as RegisterInput)),
            },
          });
          return;
        case 'device.report':
          send({
            id,
            result: {
              type: 'data',
              data: superjson.serialize(this.fleet.report(deviceId, input as ReportInput)),
            },
          });
          return;
        case 'device.offers': {
          const given = (input as { lastEventId?: string | null } | undefined)?.lastEventId ?? null;
          const lastEventId = message.params.lastEventId ?? given;
          const subscriber: Subscriber = {
            deviceId,
            // A tracked event: the event id on the result, and `{ id, data }` as the payload.
            send: (offer) =>
              send({
                id,
                result: {
                  type: 'data',
                  id: offer.offerId,
                  data: superjson.serialize({ id: offer.offerId, data: offer }),
                },
              }),
          };
          send({ id, result: { type: 'started' } });
          for (const offer of this.fleet.current(deviceId, lastEventId)) subscriber.send(offer);
          subscriptions.set(id, subscriber);
          this.fleet.subscribers.add(subscriber);
          return;
        }
        default:
          throw new FailureError({ code: 'NOT_FOUND', message: `no procedure ${message.params?.path}` });
      }
    } catch (error) {
      fail(error);
    }
  }
}
