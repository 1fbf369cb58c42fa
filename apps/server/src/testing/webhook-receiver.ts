import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request a receiver got, as it arrived. */
export interface ReceivedWebhook {
  path: string;
  event: string;
  delivery: string;
  attempt: number;
  timestamp: string;
  signature: string;
  /** The raw body, as signed. */
  body: string;
  /** The body's `id` (the event id): what a receiver dedupes by. */
  id: string;
  type: string;
  /** The receiver's clock when it arrived (ms). */
  at: number;
}

/** What the receiver does with a request: answer with a status, never answer, or cut the connection. */
export type Answer = { status: number; location?: string } | 'hang';

/**
 * A receiver's check, as docs/webhooks.md tells receivers to do it: HMAC-SHA256 over
 * "<timestamp>.<raw body>" with the endpoint's secret, compared in constant time, and a timestamp
 * no further than `toleranceSeconds` from now.
 */
export function verifies(
  secret: string,
  request: Pick<ReceivedWebhook, 'timestamp' | 'signature' | 'body'>,
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(request.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > toleranceSeconds)
    return false;
  const expected = `v1=${createHmac('sha256', secret).update(`${request.timestamp}.${request.body}`).digest('hex')}`;
  const given = Buffer.from(request.signature);
  return given.length === expected.length && timingSafeEqual(given, Buffer.from(expected));
}

/**
 * A webhook receiver on loopback (node:http) for tests: it records every request and answers as
 * `answer` says (default 200). It can go down and come back on the same port, and hold requests
 * unanswered (a slow receiver, or a send a pod is killed in the middle of).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answer: (request: ReceivedWebhook, seen: number) => Answer = () => ({ status: 200 });
  private readonly sockets = new Set<Socket>();
  private readonly held = new Map<ServerResponse, ReceivedWebhook>();
  private server: Server;

  private constructor(private port: number) {
    this.server = this.create();
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(0);
    await receiver.listen();
    return receiver;
  }

  /** The URL to create an endpoint with (`path` under it). */
  url(path = '/hook', host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** Requests for one event id, in the order they came. */
  forEvent(id: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.id === id);
  }

  /** Event ids answered with a 2xx (delivered). */
  readonly delivered = new Set<string>();
  /** How many requests were answered with a 2xx, by event id. */
  readonly deliveredCount = new Map<string, number>();

  /** Requests held unanswered right now. */
  get holding(): number {
    return this.held.size;
  }

  /** Answers every held request with 200. */
  releaseHeld(): void {
    for (const [res, request] of this.held) {
      this.count(request);
      res.writeHead(200).end();
    }
    this.held.clear();
  }

  /** Stops listening and cuts every open connection: the receiver is down. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    this.server = this.create();
    await this.listen();
  }

  private create(): Server {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private count(request: ReceivedWebhook): void {
    this.delivered.add(request.id);
    this.deliveredCount.set(request.id, (this.deliveredCount.get(request.id) ?? 0) + 1);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let payload: { id?: unknown; type?: unknown } = {};
      try {
        payload = JSON.parse(body) as typeof payload;
      } catch {}
      const header = (name: string) => String(req.headers[name] ?? '');
      const request: ReceivedWebhook = {
        path: req.url ?? '',
        event: header('x-camfleet-event'),
        delivery: header('x-camfleet-delivery'),
        attempt: Number(header('x-camfleet-attempt')),
        timestamp: header('x-camfleet-timestamp'),
        signature: header('x-camfleet-signature'),
        body,
        id: String(payload.id ?? ''),
        type: String(payload.type ?? ''),
        at: Date.now(),
      };
      this.received.push(request);
      const answer = this.answer(request, this.forEvent(request.id).length);
      if (answer === 'hang') {
        this.held.set(res, request);
        res.on('close', () => this.held.delete(res));
        return;
      }
      if (answer.status >= 200 && answer.status < 300) this.count(request);
      res.writeHead(answer.status, answer.location ? { location: answer.location } : {}).end('nope');
    });
  }
}
