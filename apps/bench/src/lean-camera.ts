/**
 * The lean load generator: a bench-only camera that speaks device protocol 1
 * (docs/device-protocol.md) with pre-encoded frames over a bare `ws` socket. No tRPC client, no
 * zod, no superjson library: each frame is JSON text built once per camera (connectionParams,
 * register, subscribe) or from a constant head and tail with the few per-message fields patched in
 * (a report's request id, delivery id, attempt and version), sent as one buffer (one write). The
 * two frames of every delivery, the offer and the report's answer, are read by looking for the few
 * fields needed in the text (`"deliveryId":"…"`, `"state":"succeeded"`); anything else, or anything
 * that does not look as expected, goes through `JSON.parse`.
 *
 * It behaves like a camera of the benchmark's zero-time install: it enrolls with the batch token
 * when it has no secret (and keeps the secret), authenticates with connectionParams, registers,
 * subscribes to `device.offers` (with `lastEventId` when it resubscribes), answers each offer with
 * one `succeeded` report naming the patch's version (and runs that version from then on), reports
 * `canceled` for a cancel of an attempt it never worked on, re-sends an unanswered report after a
 * reconnect, answers `PING` with `PONG`, and reconnects (full-jitter backoff, failing over to the
 * next pod) after a `reconnect` notice or a lost socket, never after 4002.
 *
 * Only `ws` and Node at runtime: this module imports nothing else. One file on purpose: the frames
 * it writes and the text it scans for are one protocol's two halves, kept side by side.
 */
import WebSocket from 'ws';

/** Which camera the benchmark runs: this lean one, or the full device simulator (`apps/device-sim`). */
export type CameraKind = 'lean' | 'sim';

/** What the benchmark's worker records (the same shapes as the device simulator's events). */
export type LeanEvent =
  | { type: 'subscribed'; deviceId: string; url: string }
  | { type: 'disconnected'; deviceId: string; url: string; reason: string }
  | { type: 'offer'; deviceId: string; deliveryId: string };

/** Where cameras find their secrets and keep the ones they got by enrolling. */
export interface SecretStore {
  secretOf(deviceId: string): string | undefined;
  save(deviceId: string, secret: string): unknown;
}

/** What the lean cameras of one process did, since it started. */
export interface LeanCounters {
  /** Sockets opened with a secret (sessions), and enrollment exchanges completed. */
  connects: number;
  enrolled: number;
  registered: number;
  /** `started` frames of device.offers. */
  subscribed: number;
  offers: number;
  cancels: number;
  reportsSent: number;
  /** Reports answered with state `succeeded` (first time or duplicate). */
  reportsSucceeded: number;
  /** Refused reports, by `fleetCode` (or `data.code`). */
  reportErrors: Record<string, number>;
  /** PONGs sent in answer to the server's PING. */
  pongs: number;
  reconnectNotices: number;
  /** Closes of sessions, by close code (our own after a notice included). */
  closes: Record<string, number>;
  /** Sockets that closed before they opened (refused, timed out), and upgrades refused by status. */
  failedConnects: number;
  refusedUpgrades: Record<string, number>;
  /** Cameras that stopped for good: credentials refused, or replaced (4002). */
  rejected: number;
  replaced: number;
}

export function emptyCounters(): LeanCounters {
  return {
    connects: 0,
    enrolled: 0,
    registered: 0,
    subscribed: 0,
    offers: 0,
    cancels: 0,
    reportsSent: 0,
    reportsSucceeded: 0,
    reportErrors: {},
    pongs: 0,
    reconnectNotices: 0,
    closes: {},
    failedConnects: 0,
    refusedUpgrades: {},
    rejected: 0,
    replaced: 0,
  };
}

export interface LeanFleetOptions {
  /** Pod base URLs (http://host:port); camera i starts on pod i mod K and fails over to the others. */
  urls: readonly string[];
  devices: number;
  prefix: string;
  model?: string;
  firmwareVersion?: string;
  labels?: Record<string, string>;
  credentials: SecretStore;
  enrollToken: string | null;
  /** Source addresses of the cameras' sockets, round-robin (default: the system's choice). */
  localAddresses?: readonly string[];
  /** Full-jitter reconnect backoff: a random wait in [0, min(maxMs, baseMs × 2^n)]. */
  backoff: { baseMs: number; maxMs: number };
  /** Give up on a socket that has not opened after this long (ws handshake timeout). */
  connectTimeoutMs: number;
  onEvent: (event: LeanEvent) => void;
}

/** `${prefix}-0001` for camera 0 of `total` (the device simulator's ids). */
export function leanDeviceId(prefix: string, index: number, total: number): string {
  return `${prefix}-${String(index + 1).padStart(Math.max(4, String(total).length), '0')}`;
}

/**
 * The fail-over order for camera `index` (the device simulator's `urlsFor`): its own pod first, then
 * the others, starting at a different one for successive cameras of the same pod, so a dead pod's
 * cameras spread over all the rest.
 */
export function leanUrlsFor(urls: readonly string[], index: number): string[] {
  const n = urls.length;
  const own = index % n;
  const others = [...urls.slice(own + 1), ...urls.slice(0, own)];
  const shift = n > 1 ? Math.floor(index / n) % (n - 1) : 0;
  return [urls[own] as string, ...others.slice(shift), ...others.slice(0, shift)];
}

/** A frame the server sends, as far as this camera reads it. */
interface ServerFrame {
  id?: number | string | null;
  method?: string;
  result?: { type?: string; id?: string; data?: { json?: unknown } };
  error?: { json?: { message?: string; data?: { code?: string; fleetCode?: string | null } } };
}

interface OfferEvent {
  id?: string;
  data?: {
    type?: string;
    deliveryId?: string;
    attempt?: number;
    offer?: { deliveryId: string; attempt: number; patch: { version: string } };
  };
}

// Request ids: each connection uses 1 for enroll or register, 2 for the subscription, 3… for reports.
const CALL_ID = 1;
const SUBSCRIPTION_ID = 2;
const FIRST_REPORT_ID = 3;
const ENROLL_FRAME = '{"id":1,"method":"mutation","params":{"path":"device.enroll","input":{"json":null}}}';
const REPORT_HEAD = ',"method":"mutation","params":{"path":"device.report","input":{"json":{"deliveryId":';
/** Sent as text frames, each in one write (ws masks a buffer into a single frame buffer). */
const TEXT = { binary: false } as const;
const CLOSE_CREDENTIALS = 4001;
const CLOSE_REPLACED = 4002;
const CLOSE_RESTARTING = 1012;

/**
 * The string value of the first `"key":"…"` in a JSON text (marker `"key":"`), or null (absent, or escaped: then the
 * caller parses the frame). Ids, versions and the keys looked for here never need escaping.
 */
function stringField(text: string, marker: string): string | null {
  const start = text.indexOf(marker);
  if (start < 0) return null;
  const from = start + marker.length;
  const end = text.indexOf('"', from);
  if (end < 0) return null;
  const value = text.slice(from, end);
  return value.includes('\\') ? null : value;
}

/** The integer value of the first `"key":123` in a JSON text (marker `"key":`), or null. */
function numberField(text: string, marker: string): number | null {
  const start = text.indexOf(marker);
  if (start < 0) return null;
  let end = start + marker.length;
  while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
  const value = Number(text.slice(start + marker.length, end));
  return end > start + marker.length && Number.isSafeInteger(value) ? value : null;
}

/** One lean camera. Sessions one at a time; `start` after `stop` starts it again, state kept. */
export class LeanCamera {
  private socket: WebSocket | null = null;
  private url: string;
  private urlIndex = 0;
  /** Failed connects in a row (closed before register succeeded): the backoff's exponent. */
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private version: string;
  private lastEventId: string | null = null;
  /** Pre-encoded frames of this camera, rebuilt only when what they carry changes. */
  private paramsFrame: string | null = null;
  private registerFrame: string | null = null;
  /** The session's state: enrolling (the socket trades the token for a secret), registered. */
  private enrolling = false;
  private registered = false;
  private open = false;
  /** Why the current socket is going away, when this camera closes it itself. */
  private leaving: { reason: string; atOnce: boolean } | null = null;
  private nextReportId = FIRST_REPORT_ID;
  /** The last report sent and not answered: its frame after the id, re-sent after a reconnect. */
  private pending: { id: number; body: string } | null = null;
  /** The delivery and attempt it last worked on (a cancel for them comes too late: ignored). */
  private lastDelivery = '';
  private lastAttempt = 0;
  private readonly closedWaiters: Array<() => void> = [];

  constructor(
    readonly id: string,
    private readonly urls: readonly string[],
    private readonly localAddress: string | undefined,
    private readonly fleet: LeanFleet,
  ) {
    this.url = urls[0] ?? '';
    this.version = fleet.firmwareVersion;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.connect();
  }

  /** Closes the session (1000) and stays offline until `start`. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      this.closedWaiters.push(resolve);
      socket.close(1000);
      // A peer that does not finish the closing handshake: cut the socket.
      setTimeout(() => socket.terminate(), 2_000).unref();
    });
  }

  /** A network blip: the socket is cut (no closing handshake) and the camera reconnects as after any loss. */
  drop(): boolean {
    if (!this.socket || this.stopped) return false;
    this.socket.terminate();
    return true;
  }

  private get counters(): LeanCounters {
    return this.fleet.counters;
  }

  private connect(): void {
    this.timer = null;
    if (this.stopped) return;
    const secret = this.fleet.options.credentials.secretOf(this.id);
    const token = this.fleet.options.enrollToken;
    if (secret === undefined && !token) {
      this.giveUp('rejected');
      return;
    }
    this.url = this.urls[this.urlIndex % this.urls.length] ?? '';
    this.enrolling = secret === undefined;
    this.registered = false;
    this.open = false;
    this.leaving = null;
    this.nextReportId = FIRST_REPORT_ID;
    if (secret !== undefined && this.paramsFrame === null)
      this.paramsFrame = JSON.stringify({ method: 'connectionParams', data: { deviceId: this.id, secret } });
    const socket = new WebSocket(`ws${this.url.slice(4)}/trpc?connectionParams=1`, {
      perMessageDeflate: false,
      handshakeTimeout: this.fleet.options.connectTimeoutMs,
      skipUTF8Validation: true,
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
    });
    this.socket = socket;
    socket.on('open', () => this.opened(socket, secret));
    socket.on('message', (data) => {
      if (socket === this.socket) this.received(socket, String(data));
    });
    socket.on('close', (code: number) => this.closed(socket, code));
    // A refused upgrade (429 from a pod holding too many sockets waiting to authenticate): counted,
    // then the socket is given up like any failed connect.
    socket.on('unexpected-response', (_request, response) => {
      const status = String(response.statusCode);
      this.counters.refusedUpgrades[status] = (this.counters.refusedUpgrades[status] ?? 0) + 1;
      socket.terminate();
    });
    socket.on('error', () => undefined); // the close that follows says what happened
  }

  private opened(socket: WebSocket, secret: string | undefined): void {
    if (socket !== this.socket) return;
    this.open = true;
    if (secret === undefined) {
      const token = this.fleet.options.enrollToken ?? '';
      socket.send(
        JSON.stringify({ method: 'connectionParams', data: { deviceId: this.id, enrollToken: token } }),
      );
      socket.send(ENROLL_FRAME);
      return;
    }
    this.counters.connects++;
    // The register call goes right behind the credentials (the server waits for them).
    socket.send(this.paramsFrame as string);
    socket.send(this.registerFrameNow());
  }

  private registerFrameNow(): string {
    if (this.registerFrame === null) {
      const { model, labels } = this.fleet;
      const input = { model, firmwareVersion: this.version, labels };
      this.registerFrame = `{"id":${CALL_ID},"method":"mutation","params":{"path":"device.register","input":{"json":${JSON.stringify(input)}}}}`;
    }
    return this.registerFrame;
  }

  private received(socket: WebSocket, text: string): void {
    if (text === 'PING') {
      socket.send('PONG');
      this.counters.pongs++;
      return;
    }
    if (text === 'PONG') return;
    if (this.fastPath(socket, text)) return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return; // not ours to judge: a camera ignores what it cannot read
    }
    const id = frame.id;
    if (id === SUBSCRIPTION_ID) this.subscriptionFrame(socket, frame);
    else if (typeof id === 'number' && id >= FIRST_REPORT_ID) this.reportAnswer(id, frame);
    else if (id === CALL_ID) {
      if (this.enrolling) this.enrollAnswer(socket, frame);
      else this.registerAnswer(socket, frame);
    } else if (id === null || id === undefined) {
      if (frame.method === 'reconnect') {
        this.counters.reconnectNotices++;
        this.leave(socket, 'server asked to reconnect', true);
      } else if (frame.error) this.refusedConnection(frame);
    }
  }

  /**
   * The frames of every delivery, read without parsing: an offer (its delivery, attempt, offer id and
   * the patch's version) and a report's answer without an error. False: not one of those, or not in
   * the shape expected; the caller parses it.
   */
  private fastPath(socket: WebSocket, text: string): boolean {
    if (!text.startsWith('{"id":')) return false;
    const idEnd = text.indexOf(',', 6);
    const id = Number(text.slice(6, idEnd));
    if (id === SUBSCRIPTION_ID) {
      if (!text.includes('"type":"offer"') || text.includes('"error":')) return false;
      const offerId = stringField(text, '"offerId":"');
      const deliveryId = stringField(text, '"deliveryId":"');
      const version = stringField(text, '"version":"');
      const attempt = numberField(text, '"attempt":');
      if (offerId === null || deliveryId === null || version === null || attempt === null) return false;
      // An offer's event id is its offer id.
      this.lastEventId = offerId;
      this.offer(socket, deliveryId, attempt, version);
      return true;
    }
    if (!(id >= FIRST_REPORT_ID) || text.includes('"error":')) return false;
    if (this.pending?.id === id) this.pending = null;
    if (text.includes('"state":"succeeded"')) this.counters.reportsSucceeded++;
    return true;
  }

  private enrollAnswer(socket: WebSocket, frame: ServerFrame): void {
    const secret = (frame.result?.data?.json as { secret?: string } | undefined)?.secret;
    if (!secret) {
      this.refusedConnection(frame);
      return;
    }
    this.fleet.options.credentials.save(this.id, secret);
    this.counters.enrolled++;
    // Not a session: reconnect at once with the secret, to the same pod.
    this.urlIndex--;
    this.leave(socket, 'enrolled', true);
  }

  private registerAnswer(socket: WebSocket, frame: ServerFrame): void {
    if (frame.error) {
      const code = frame.error.json?.data?.code;
      if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') this.giveUp('rejected');
      else this.leave(socket, `register refused: ${code ?? 'error'}`, false);
      return;
    }
    this.registered = true;
    this.failures = 0;
    this.counters.registered++;
    // Re-send the last report that had no answer (reports are idempotent), then subscribe.
    if (this.pending) this.sendReport(socket, this.pending.body);
    socket.send(this.subscribeFrame());
  }

  private subscribeFrame(): string {
    if (this.lastEventId === null)
      return `{"id":${SUBSCRIPTION_ID},"method":"subscription","params":{"path":"device.offers","input":{"json":{}}}}`;
    const last = JSON.stringify(this.lastEventId);
    return `{"id":${SUBSCRIPTION_ID},"method":"subscription","params":{"path":"device.offers","input":{"json":{"lastEventId":${last}}},"lastEventId":${last}}}`;
  }

  private subscriptionFrame(socket: WebSocket, frame: ServerFrame): void {
    const result = frame.result;
    if (!result) {
      // Refused (a limit): reconnect, which subscribes again.
      this.leave(socket, 'subscription refused', false);
      return;
    }
    if (result.type === 'data') {
      if (result.id) this.lastEventId = result.id;
      this.serverEvent(socket, result.data?.json as OfferEvent | undefined);
    } else if (result.type === 'started') {
      this.counters.subscribed++;
      this.fleet.options.onEvent({ type: 'subscribed', deviceId: this.id, url: this.url });
    } else if (result.type === 'stopped') {
      // Not asked for: subscribe again.
      socket.send(this.subscribeFrame());
    }
  }

  private serverEvent(socket: WebSocket, event: OfferEvent | undefined): void {
    const data = event?.data;
    if (data?.type === 'offer' && data.offer) {
      const { deliveryId, attempt, patch } = data.offer;
      this.offer(socket, deliveryId, attempt, patch.version);
    } else if (data?.type === 'cancel' && data.deliveryId && data.attempt) {
      this.counters.cancels++;
      // Already installed (every install here ends at once): too late to cancel, ignored.
      if (data.deliveryId === this.lastDelivery && data.attempt === this.lastAttempt) return;
      const body = `${REPORT_HEAD}${JSON.stringify(data.deliveryId)},"attempt":${data.attempt},"status":"canceled"}}}}`;
      this.sendReport(socket, body);
    }
  }

  /** Zero-time install, no restart: it runs the patch's version now, and reports so. */
  private offer(socket: WebSocket, deliveryId: string, attempt: number, version: string): void {
    this.counters.offers++;
    this.fleet.options.onEvent({ type: 'offer', deviceId: this.id, deliveryId });
    this.lastDelivery = deliveryId;
    this.lastAttempt = attempt;
    if (version !== this.version) {
      this.version = version;
      this.registerFrame = null;
    }
    const body = `${REPORT_HEAD}${JSON.stringify(deliveryId)},"attempt":${attempt},"status":"succeeded","firmwareVersion":${JSON.stringify(version)}}}}}`;
    this.sendReport(socket, body);
  }

  private sendReport(socket: WebSocket, body: string): void {
    const id = this.nextReportId++;
    this.pending = { id, body };
    this.counters.reportsSent++;
    socket.send(Buffer.from(`{"id":${id}${body}`), TEXT);
  }

  private reportAnswer(id: number, frame: ServerFrame): void {
    if (this.pending?.id === id) this.pending = null;
    if (frame.error) {
      const data = frame.error.json?.data;
      const code = data?.fleetCode ?? data?.code ?? 'error';
      this.counters.reportErrors[code] = (this.counters.reportErrors[code] ?? 0) + 1;
      return;
    }
    const answer = frame.result?.data?.json as { state?: string } | undefined;
    if (answer?.state === 'succeeded') this.counters.reportsSucceeded++;
  }

  /** An `id: null` error: refused credentials stop the camera; anything else, the close follows. */
  private refusedConnection(frame: ServerFrame): void {
    if (frame.error?.json?.data?.code === 'UNAUTHORIZED') this.giveUp('rejected');
  }

  /** Closes this session itself (1000) and reconnects: at once (a notice, enrolled) or with backoff. */
  private leave(socket: WebSocket, reason: string, atOnce: boolean): void {
    if (socket !== this.socket || this.leaving) return;
    this.leaving = { reason, atOnce };
    socket.close(1000);
  }

  private giveUp(kind: 'rejected' | 'replaced'): void {
    this.counters[kind]++;
    void this.stop();
  }

  private closed(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    this.socket = null;
    for (const resolve of this.closedWaiters.splice(0)) resolve();
    if (this.stopped) return;
    const leaving = this.leaving;
    const wasSession = !this.enrolling;
    if (!this.open) this.counters.failedConnects++;
    else if (wasSession) this.counters.closes[code] = (this.counters.closes[code] ?? 0) + 1;
    if (code === CLOSE_REPLACED) {
      // Another process is this camera now.
      this.giveUp('replaced');
      return;
    }
    if (code === CLOSE_CREDENTIALS) {
      this.giveUp('rejected');
      return;
    }
    const reason = leaving?.reason ?? 'connection closed';
    if (wasSession || leaving?.reason !== 'enrolled')
      this.fleet.options.onEvent({ type: 'disconnected', deviceId: this.id, url: this.url, reason });
    const { baseMs, maxMs } = this.fleet.options.backoff;
    const atOnce = leaving?.atOnce === true || code === CLOSE_RESTARTING;
    const delayMs =
      leaving?.reason === 'enrolled'
        ? 0
        : Math.random() * (atOnce ? baseMs : Math.min(maxMs, baseMs * 2 ** this.failures));
    if (!this.registered && !atOnce) this.failures++;
    this.urlIndex++;
    this.timer = setTimeout(() => this.connect(), delayMs);
  }
}

/** N lean cameras in one process. */
export class LeanFleet {
  readonly devices: readonly LeanCamera[];
  readonly counters = emptyCounters();
  readonly model: string;
  readonly firmwareVersion: string;
  readonly labels: Record<string, string>;

  constructor(readonly options: LeanFleetOptions) {
    if (options.urls.length === 0) throw new Error('a fleet needs at least one URL');
    this.model = options.model ?? 'cam-x';
    this.firmwareVersion = options.firmwareVersion ?? '1.0.0';
    this.labels = options.labels ?? {};
    const addresses = options.localAddresses ?? [];
    this.devices = Array.from(
      { length: options.devices },
      (_, i) =>
        new LeanCamera(
          leanDeviceId(options.prefix, i, options.devices),
          leanUrlsFor(options.urls, i),
          addresses.length > 0 ? addresses[i % addresses.length] : undefined,
          this,
        ),
    );
  }

  start(): void {
    for (const device of this.devices) device.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.devices.map((device) => device.stop()));
  }
}
