import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ArtifactRef,
  appRouter,
  type ConnectionRef,
  type Device,
  type DeviceCredential,
  type DeviceEvent,
  eventIdOf,
  FleetError,
  type FleetErrorCode,
  type FleetServices,
  type Offer,
  type OffersOptions,
  type Principal,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
  type ReportStatus,
} from '@camfleet/contracts';
import { TRPCError } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A test pod for device tests: the real `appRouter` served by tRPC's own WebSocket adapter, as the
 * server does, over `FakeFleet`, scripted in-memory fleet services that tests drive directly.
 * Not a fleet implementation: deliveries move only when a test offers them.
 *
 * Device credentials follow the server's rules: `{deviceId, secret}` with the device's secret is the
 * device; `{deviceId, enrollToken}` with the enrollment token, for an id without a credential, is an
 * enrollee (it may only call `device.enroll`); anything else is refused, all alike.
 */

/** The close codes the server uses on device connections. */
export const CLOSE_CREDENTIALS = 4001;
export const CLOSE_REPLACED = 4002;

const REFUSED = 'device credentials refused';

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

/** A service the test pod does not offer: every method refuses. */
function absentService<T extends object>(): T {
  return new Proxy({} as T, { get: () => absent });
}

/** An artifact request the test pods answered. */
export interface ArtifactRequest {
  method: string;
  sha256: string;
  /** The device the Authorization header named (whether or not its secret was right). */
  deviceId: string | null;
  range: string | null;
  ifRange: string | null;
  status: number;
  /** Body bytes written (before a cut, if one). */
  sent: number;
  cut: boolean;
}

/** How a connection was answered. */
export interface Admission {
  deviceId: string | null;
  as: 'device' | 'enrollee' | 'refused';
}

/** The fleet behind one or more test pods; only the device side of the services is implemented. */
export class FakeFleet {
  /** Device secrets, provisioned or enrolled. */
  readonly secrets = new Map<string, string>();
  /** Ids whose credential was revoked: refused from then on, enrollment included. */
  readonly revoked = new Set<string>();
  /** Devices that enrolled, in order. */
  readonly enrolled: string[] = [];
  /** Every connection, as it was answered. */
  readonly admissions: Admission[] = [];
  /** Fail this many upcoming enroll calls with UNAVAILABLE. */
  failEnrolls = 0;
  /** Refuse enroll calls with this domain error, when set. */
  enrollFailure: { code: FleetErrorCode; message: string } | null = null;
  /** One connection per device, as the server keeps: a newer one closes older ones with 4002. */
  replaceOnConnect = true;
  /** Open connections per device (enrollee ones included). */
  private readonly sockets = new Map<string, Set<WebSocket>>();
  readonly registrations: { deviceId: string; input: RegisterInput }[] = [];
  readonly reports: { deviceId: string; input: ReportInput; at: number }[] = [];
  readonly deliveries = new Map<string, FakeDelivery>();
  /** Attempts whose device came back from its restart on another version than the patch's. */
  readonly rollbacks: { deliveryId: string; attempt: number; firmwareVersion: string }[] = [];
  /** Open `device.offers` subscriptions. */
  readonly subscribers = new Set<Subscriber>();
  /** The device of every `device.offers` subscription started, in order (closed ones included). */
  readonly subscriptions: string[] = [];
  /** Fail this many upcoming register calls with UNAVAILABLE (a Redis restart). */
  failRegisters = 0;
  /** Refuse register calls with this domain error, when set. */
  registerFailure: { code: FleetErrorCode; message: string } | null = null;
  /** Refuse reports with this domain error instead of applying them, when set. */
  reportFailure: { code: FleetErrorCode; message: string } | null = null;
  /** The ack timeout new offers carry. */
  ackTimeoutMs = 60_000;
  /** Artifact bytes the test pods serve at `/artifacts/<sha256>`, by sha256. */
  readonly artifacts = new Map<string, Buffer>();
  /** Every artifact request, as answered. */
  readonly artifactRequests: ArtifactRequest[] = [];
  /** Cut the connection after this many body bytes, one entry per upcoming GET (a queue). */
  readonly cutDownloads: number[] = [];
  /** Then: send this many body bytes and go silent, connection left open (a queue, after cutDownloads). */
  readonly stallDownloads: number[] = [];
  /** Leave this many upcoming GETs unanswered, not even headers, connection left open (a hung pod). */
  unansweredDownloads = 0;
  /** Serve tampered bytes: the same length, one byte flipped (in the middle of the file). */
  tamperDownloads = false;
  /** Answer range requests with the whole file (200), as a server without range support. */
  ignoreRanges = false;
  private seq = 0;

  /** `enrollToken` is the enrollment token the pods accept. */
  constructor(readonly enrollToken: string) {}

  /** Gives a device a credential, as `fleet device provision` does; returns its secret. */
  provision(deviceId: string, secret = `cfd_${randomBytes(16).toString('base64url')}`): string {
    this.secrets.set(deviceId, secret);
    this.revoked.delete(deviceId);
    return secret;
  }

  /** A new secret for the device; the old one stops working and its connections are closed (4001). */
  rotate(deviceId: string): string {
    const secret = this.provision(deviceId);
    this.closeDevice(deviceId, CLOSE_CREDENTIALS, 'credentials rotated');
    return secret;
  }

  /** Refuses the device from now on and closes its connections (4001). */
  revoke(deviceId: string): void {
    this.secrets.delete(deviceId);
    this.revoked.add(deviceId);
    this.closeDevice(deviceId, CLOSE_CREDENTIALS, 'credentials revoked');
  }

  /** Closes a device's open connections (on every pod of this fleet), except `keep`. */
  closeDevice(deviceId: string, code: number, reason: string, keep: WebSocket | null = null): void {
    for (const ws of this.sockets.get(deviceId) ?? []) if (ws !== keep) ws.close(code, reason);
  }

  /** Open connections of a device. */
  connectionsOf(deviceId: string): number {
    return this.sockets.get(deviceId)?.size ?? 0;
  }

  /**
   * Who a connection is, from its connectionParams, as the server's authenticator decides; throws
   * UNAUTHORIZED 'device credentials refused' for any bad credential.
   */
  admit(params: Readonly<Record<string, string | undefined>>, ws: WebSocket): Principal {
    const principal = this.principalOf(params);
    this.admissions.push({ deviceId: params.deviceId ?? null, as: principal?.kind ?? 'refused' });
    if (principal === null) throw new TRPCError({ code: 'UNAUTHORIZED', message: REFUSED });
    const { deviceId } = principal;
    if (principal.kind === 'device' && this.replaceOnConnect) {
      this.closeDevice(deviceId, CLOSE_REPLACED, 'replaced by a newer connection', ws);
    }
    const open = this.sockets.get(deviceId) ?? new Set<WebSocket>();
    open.add(ws);
    this.sockets.set(deviceId, open);
    ws.once('close', () => {
      open.delete(ws);
      if (open.size === 0 && this.sockets.get(deviceId) === open) this.sockets.delete(deviceId);
    });
    return principal;
  }

  private principalOf({
    deviceId,
    secret,
    enrollToken,
  }: Readonly<Record<string, string | undefined>>): Extract<
    Principal,
    { kind: 'device' | 'enrollee' }
  > | null {
    if (!deviceId || this.revoked.has(deviceId)) return null;
    if (secret !== undefined) {
      return this.secrets.get(deviceId) === secret ? { kind: 'device', deviceId } : null;
    }
    // An id that has a credential cannot enroll again.
    if (enrollToken === this.enrollToken && !this.secrets.has(deviceId)) {
      return { kind: 'enrollee', deviceId, enrollTokenId: null };
    }
    return null;
  }

  async enrollDevice(deviceId: string, _enrollTokenId: string | null): Promise<DeviceCredential> {
    if (this.failEnrolls > 0) {
      this.failEnrolls--;
      throw new FleetError('UNAVAILABLE', 'redis is restarting');
    }
    if (this.enrollFailure) throw new FleetError(this.enrollFailure.code, this.enrollFailure.message);
    // Two enrollees of one id at once: the first one wins, the other is refused like any other.
    if (this.secrets.has(deviceId) || this.revoked.has(deviceId))
      throw new FleetError('UNAUTHORIZED', REFUSED);
    const secret = this.provision(deviceId);
    this.enrolled.push(deviceId);
    return { deviceId, secret };
  }

  /** Stores bytes to serve; returns the artifact reference an offer carries. */
  addArtifact(bytes: Buffer): ArtifactRef {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.artifacts.set(sha256, bytes);
    return { sha256, size: bytes.length, url: `/artifacts/${sha256}` };
  }

  /**
   * Offers attempt `attempt` of delivery `deliveryId` to a device, live if it is subscribed.
   * `patch`: the patch's name (default `patch`), artifact and signature (default none).
   */
  offer(
    deviceId: string,
    deliveryId: string,
    attempt = 1,
    version = '2.0.0',
    patch: Partial<Pick<Offer['patch'], 'name' | 'artifact' | 'delta' | 'signature'>> = {},
    installWindow: Offer['installWindow'] = null,
  ): Offer {
    const offer: Offer = {
      offerId: `off-${++this.seq}`,
      deliveryId,
      rolloutId: 'ro_test',
      attempt,
      patch: {
        id: 'pat_test',
        name: patch.name ?? 'patch',
        version,
        notes: '',
        artifact: patch.artifact ?? null,
        delta: patch.delta ?? null,
        signature: patch.signature ?? null,
      },
      ackTimeoutMs: this.ackTimeoutMs,
      deadlineAt: Date.now() + 60_000,
      installWindow,
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

  /** When each report of a delivery arrived (this process's clock), in order. */
  reportTimes(deliveryId: string): number[] {
    return this.reports.filter((r) => r.input.deliveryId === deliveryId).map((r) => r.at);
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
    if (this.registerFailure) throw new FleetError(this.registerFailure.code, this.registerFailure.message);
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
    this.subscriptions.push(deviceId);
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
    this.reports.push({ deviceId, input, at: Date.now() });
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

  /**
   * The services the router calls: the device side, answered by this fake; the rest refused
   * (no test pod serves operators).
   */
  readonly services: FleetServices = {
    devices: {
      register: (deviceId, connection, input) => this.registerDevice(deviceId, connection, input),
      offers: (deviceId, options) => this.deviceOffers(deviceId, options),
      report: (deviceId, input) => this.report(deviceId, input),
      artifactUrl: async () => absent(),
    },
    credentials: {
      enroll: (deviceId, tokenId) => this.enrollDevice(deviceId, tokenId),
      provision: absent,
      provisionMany: absent,
      rotate: absent,
      revoke: absent,
    },
    patches: absentService(),
    rollouts: absentService(),
    inventory: absentService(),
    events: absentService(),
    tokens: absentService(),
    enrollTokens: absentService(),
    audit: absentService(),
    webhooks: absentService(),
  };

  private push(deviceId: string, event: DeviceEvent): void {
    for (const subscriber of this.subscribers) if (subscriber.deviceId === deviceId) subscriber.push(event);
  }

  /**
   * A test double of the pod's artifact endpoint: `GET|HEAD /artifacts/<sha256>` with
   * `Authorization: Device <id>:<secret>`, for a device whose open attempt offers that artifact (or delta)
   * (403 for anything else); `Range: bytes=<from>-` → 206 + Content-Range, unless `If-Range` names
   * another ETag (then the whole file, 200); ETag `"<sha256>"`. Cuts and tampering per the switches.
   */
  serveArtifact(req: IncomingMessage, res: ServerResponse, sha256: string): void {
    const auth = /^Device ([^:\s]+):(\S+)$/.exec(req.headers.authorization ?? '');
    const deviceId = auth?.[1] ?? null;
    const entry: ArtifactRequest = {
      method: req.method ?? '',
      sha256,
      deviceId,
      range: req.headers.range ?? null,
      ifRange: typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : null,
      status: 0,
      sent: 0,
      cut: false,
    };
    this.artifactRequests.push(entry);
    const answer = (status: number, headers: Record<string, string | number> = {}): void => {
      entry.status = status;
      res.writeHead(status, headers);
    };
    const stored = this.artifacts.get(sha256);
    const allowed =
      auth !== null &&
      this.secrets.get(auth[1]!) === auth[2] &&
      [...this.deliveries.values()].some(
        (d) =>
          d.deviceId === auth[1] &&
          !d.over &&
          ['offered', 'downloading', 'installing'].includes(d.state) &&
          (d.offer.patch.artifact?.sha256 === sha256 || d.offer.patch.delta?.sha256 === sha256),
      );
    if (!allowed || stored === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      answer(403);
      res.end();
      return;
    }
    let bytes = stored;
    if (this.tamperDownloads && bytes.length > 0) {
      bytes = Buffer.from(stored);
      bytes[bytes.length >> 1]! ^= 0xff;
    }
    const etag = `"${sha256}"`;
    const range = /^bytes=(\d+)-$/.exec(entry.range ?? '');
    const honoured =
      range !== null && !this.ignoreRanges && (entry.ifRange === null || entry.ifRange === etag);
    const from = honoured ? Number(range[1]) : 0;
    const common = { etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (from > 0 && from >= bytes.length) {
      answer(416, { ...common, 'content-range': `bytes */${bytes.length}` });
      res.end();
      return;
    }
    if (req.method === 'GET' && this.unansweredDownloads > 0) {
      this.unansweredDownloads--;
      return; // status stays 0: nothing was sent
    }
    const body = bytes.subarray(from);
    answer(honoured ? 206 : 200, {
      ...common,
      'content-length': body.length,
      ...(honoured ? { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cutAfter = this.cutDownloads.shift();
    const stallAfter = cutAfter === undefined ? this.stallDownloads.shift() : undefined;
    const partial = cutAfter ?? stallAfter;
    if (partial !== undefined && partial < body.length) {
      // Part of the body, then the connection goes (the client sees a body cut short), or stalls.
      entry.sent = partial;
      entry.cut = cutAfter !== undefined;
      res.write(body.subarray(0, partial), () => {
        if (cutAfter !== undefined) res.socket?.destroy();
      });
      return;
    }
    entry.sent = body.length;
    res.end(body);
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
    const http = createServer((req, res) => {
      const artifact = /^\/artifacts\/([a-f0-9]{64})$/.exec(req.url ?? '');
      if (artifact) fleet.serveArtifact(req, res, artifact[1]!);
      else res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ server: http, path: '/trpc' });
    const handler = applyWSSHandler({
      wss,
      router: appRouter,
      // What the server's Authenticator does for a device: refuse the whole connection.
      createContext: ({ info, res }) => ({
        principal: fleet.admit(info.connectionParams ?? {}, res),
        fleet: fleet.services,
        connection: { connectionId: randomUUID(), subscriptions: { open: 0, max: 4 } },
      }),
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
    // Stalled artifact downloads included.
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
