import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LimitRefused } from '@camfleet/contracts';

/** A JSON answer with its length. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The request's path without its query, for logs. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * Writes a refusal on an upgrade's socket and closes it once written, whatever the peer does
 * (`end()` alone leaves it half open until the peer closes its side).
 */
export function endRefusedUpgrade(socket: Duplex, response: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(response);
}

/** Refuses a WebSocket upgrade by a limit: a plain HTTP answer on the socket, with Retry-After. */
export function refuseUpgrade(socket: Duplex, status: number, refusal: LimitRefused): void {
  const body = JSON.stringify({ error: refusal.message, code: refusal.code, limit: refusal.limit });
  endRefusedUpgrade(
    socket,
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `Retry-After: ${refusal.limit.retryAfterSeconds ?? 1}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
