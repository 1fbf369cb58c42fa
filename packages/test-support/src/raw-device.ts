import WebSocket from 'ws';
import { waitFor } from './wait.js';

/** A frame the server sent, parsed; `PING`/`PONG` stay text. */
export type ServerFrame = Record<string, unknown> | 'PING' | 'PONG';

/** The error of an error frame, out of its superjson envelope. */
export interface WireErrorOf {
  message: string;
  code: number;
  data: {
    code: string;
    httpStatus: number;
    path?: string;
    fleetCode: string | null;
    limit: { name: string; knob: string; retryAfterSeconds: number | null } | null;
    zodIssues: { formErrors: string[]; fieldErrors: Record<string, string[]> } | null;
  };
}

/**
 * A device speaking device protocol 1 (docs/device-protocol.md) frame by frame over a bare `ws`
 * socket: no tRPC client, so a test sends exactly the bytes it means, well-formed or not, and sees
 * every frame the server answers.
 */
export class RawDevice {
  readonly frames: ServerFrame[] = [];
  /** Every text frame as received, for checks on the raw bytes (schemas). */
  readonly texts: string[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private nextId = 1;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const text = String(data);
      this.texts.push(text);
      this.frames.push(
        text === 'PING' || text === 'PONG' ? text : (JSON.parse(text) as Record<string, unknown>),
      );
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = String(reason);
    });
    socket.on('error', () => undefined); // a refused or cut socket: the close says what happened
  }

  /** Opens `/trpc?connectionParams=1` on a pod's base URL and sends `params` (unless null) first. */
  static async open(baseUrl: string, params: Record<string, string> | null): Promise<RawDevice> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/trpc?connectionParams=1`);
    const device = new RawDevice(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    if (params) device.sendJson({ method: 'connectionParams', data: params });
    return device;
  }

  /** Sends a text frame as is. */
  send(text: string): void {
    this.socket.send(text);
  }

  sendJson(frame: unknown): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** A request with the next free id; `input` goes into superjson's envelope. Returns the id. */
  request(method: 'query' | 'mutation' | 'subscription', path: string, input: unknown, extra = {}): number {
    const id = this.nextId++;
    this.sendJson({ id, method, params: { path, input: { json: input }, ...extra } });
    return id;
  }

  /** The first frame (already received or still to come) with this id. */
  async answer(id: number | string | null, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return waitFor(() => this.objects().find((frame) => frame.id === id), {
      timeoutMs,
      what: `an answer to request ${String(id)}`,
    });
  }

  /** The first frame with this id that carries a value or an error: a subscription's `started` is skipped. */
  private async outcome(id: number | string | null): Promise<Record<string, unknown>> {
    return waitFor(
      () =>
        this.objects().find(
          (frame) => frame.id === id && (frame.error || (frame.result as { type?: string })?.type === 'data'),
        ),
      { what: `a result or an error for request ${String(id)}` },
    );
  }

  /** The result value of a successful call, or throws with the error. */
  async result(id: number): Promise<unknown> {
    const frame = await this.outcome(id);
    const result = frame.result as { data?: { json?: unknown } } | undefined;
    if (!result) throw new Error(`request ${id} failed: ${JSON.stringify(frame.error)}`);
    return result.data?.json;
  }

  /** The error of a failed call (or of the connection, `id` null), or throws if it succeeded. */
  async error(id: number | string | null): Promise<WireErrorOf> {
    const frame = await this.outcome(id);
    const error = frame.error as { json: WireErrorOf } | undefined;
    if (!error) throw new Error(`request ${String(id)} did not fail: ${JSON.stringify(frame.result)}`);
    return error.json;
  }

  /** The events (`data` frames) a subscription has delivered so far: `[event id, event]`. */
  events(subscriptionId: number): Array<[string, Record<string, unknown>]> {
    return this.objects()
      .filter((frame) => frame.id === subscriptionId)
      .map((frame) => frame.result as { type: string; id?: string; data?: { json: { data: unknown } } })
      .filter((result) => result.type === 'data' && result.data)
      .map((result) => [result.id ?? '', result.data?.json.data as Record<string, unknown>]);
  }

  async closed(timeoutMs = 10_000): Promise<number> {
    return waitFor(() => this.closeCode, { timeoutMs, what: 'the socket to close' });
  }

  close(): void {
    this.socket.terminate();
  }

  private objects(): Array<Record<string, unknown>> {
    return this.frames.filter((frame): frame is Record<string, unknown> => typeof frame === 'object');
  }
}
