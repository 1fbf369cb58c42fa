import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '@camfleet/present';
import { terminalBar } from './bar.js';
import type { Colors } from './colors.js';
import { CliError, EXIT, networkCodeOf, UsageError } from './errors.js';
import type { OutStream } from './io.js';

/**
 * Artifact uploads (`PUT <FLEET_URL>/artifacts`), streamed from disk in two passes: the first
 * reads the file to learn its SHA-256 and size, the second streams it to the server with
 * Content-Length and X-Content-SHA256, so the server checks what it stored against what was
 * hashed (a file that changes in between is refused with 422). Nothing is held in memory
 * beyond a stream chunk.
 */

export interface Digest {
  sha256: string;
  size: number;
}

/** What the server answers to an upload. */
export interface Uploaded extends Digest {
  storage: string;
  /** False when the server had these bytes already (200 instead of 201). */
  created: boolean;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Checks FILE is a readable regular file; a usage error (exit 2) otherwise. */
export async function checkArtifactFile(path: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${reason(error)}`,
    );
  }
  if (!info.isFile()) throw new UsageError(`not a regular file: ${path}`);
}

/** The SHA-256 (lowercase hex) and size of a file, read as a stream. Unreadable: exit 2. */
export async function digestFile(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${reason(error)}`);
  }
  return { sha256: hash.digest('hex'), size };
}

/** `http://host:port/base` → `http://host:port/base/artifacts`. */
export function artifactsUrl(baseUrl: string): URL {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/artifacts`;
  url.search = '';
  url.hash = '';
  return url;
}

export interface UploadOptions {
  baseUrl: string;
  token: string;
  path: string;
  digest: Digest;
  /** Called with the bytes sent so far, as they are read from disk. */
  onProgress?: (sent: number) => void;
  signal?: AbortSignal;
}

const MAX_BODY = 64 * 1024;

/** The response body as text (at most 64 KiB of it). */
async function bodyOf(response: IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) {
    if (text.length < MAX_BODY) text += chunk as string;
  }
  return text.slice(0, MAX_BODY);
}

/** The server's message in an error response: `{message}` / `{error}` JSON, or the first line of text. */
function messageOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      for (const key of ['message', 'error']) {
        const value: unknown = (parsed as Record<string, unknown>)[key];
        if (typeof value === 'string' && value.trim() !== '') return value.trim();
      }
    }
  } catch {
    // not JSON: plain text
  }
  return (
    body
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? ''
  );
}

/** An upload the server refused, as a CliError with the CLI's exit codes. */
export function uploadRefused(status: number, body: string, digest: Digest, path: string): CliError {
  const message = messageOf(body);
  const detail = `HTTP ${status}${message !== '' ? `: ${message}` : ''}`;
  switch (status) {
    case 401:
    case 403:
      return new CliError(
        EXIT.AUTH,
        `access denied: upload refused (${detail}) (check FLEET_TOKEN / --token)`,
      );
    case 413:
      return new CliError(
        EXIT.USAGE,
        `${path} is too large for the server (${formatBytes(digest.size)}, ${digest.size} bytes; ${detail})`,
      );
    case 422:
      return new CliError(
        EXIT.FAILURE,
        `the server received other bytes than were hashed (${detail}): did ${path} change during the upload?`,
      );
    case 404:
    case 405:
      return new CliError(
        EXIT.FAILURE,
        `upload failed (${detail}): the server does not accept artifact uploads (an older version?)`,
      );
    case 502:
    case 503:
    case 504:
      return new CliError(EXIT.UNREACHABLE, `server unavailable: upload failed (${detail})`);
    default:
      return new CliError(EXIT.FAILURE, `upload failed (${detail})`);
  }
}

/**
 * A request that got no answer, as a CliError: unreachable or cut off (exit 7), or a failure (exit 1).
 * A server that refuses early and then resets the connection loses its answer on the way (the
 * reset discards it), so a cut-off upload says what it might have been.
 */
function sendFailed(
  error: unknown,
  baseUrl: string,
  progress: { connected: boolean; sent: number; size: number },
): CliError {
  const code = networkCodeOf(error);
  if (code === null) return new CliError(EXIT.FAILURE, `upload failed: ${reason(error)}`);
  if (!progress.connected) {
    return new CliError(EXIT.UNREACHABLE, `cannot reach the fleet server at ${baseUrl} (${code})`);
  }
  return new CliError(
    EXIT.UNREACHABLE,
    `the fleet server at ${baseUrl} closed the connection during the upload, after about ${formatBytes(progress.sent)} of ${formatBytes(
      progress.size,
    )} (${code}): it may be unavailable, or refuse this file (too large?) without saying why`,
  );
}

/** The 2xx answer: `{sha256, size, storage}`, which must be what was sent. */
function uploadedFrom(status: number, body: string, digest: Digest): Uploaded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new CliError(EXIT.FAILURE, `upload: the server answered HTTP ${status} without JSON`);
  }
  const answer = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (answer.sha256 !== digest.sha256 || answer.size !== digest.size) {
    throw new CliError(
      EXIT.FAILURE,
      `upload: the server stored sha256 ${String(answer.sha256)} (${String(answer.size)} bytes), not ${digest.sha256} (${digest.size} bytes)`,
    );
  }
  return {
    sha256: digest.sha256,
    size: digest.size,
    storage: typeof answer.storage === 'string' ? answer.storage : '',
    created: status === 201,
  };
}

/** How long to wait for `100 Continue` before sending the body anyway (as curl does). */
export const CONTINUE_TIMEOUT_MS = 1_000;

/**
 * Streams a file to `PUT <baseUrl>/artifacts`. It asks `Expect: 100-continue` first, so a server
 * that refuses the token or the size (401/403/413) says so before any byte is sent; a server that
 * does not answer that within `continueTimeoutMs` gets the body anyway. An answer that comes while
 * the body is still being sent wins over the broken pipe that may follow it.
 */
export async function uploadArtifact(
  options: UploadOptions & { continueTimeoutMs?: number },
): Promise<Uploaded> {
  const { digest } = options;
  const url = artifactsUrl(options.baseUrl);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req: ClientRequest = request(url, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${options.token}`,
      'content-type': 'application/octet-stream',
      'content-length': String(digest.size),
      'x-content-sha256': digest.sha256,
      expect: '100-continue',
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let connected = false;
  req.once('socket', (socket) => {
    if (!socket.connecting) connected = true;
    else socket.once('connect', () => (connected = true));
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });

  let sent = 0;
  let sendError: unknown = null;
  let source: ReturnType<typeof createReadStream> | null = null;
  let sending: Promise<void> = Promise.resolve();
  const send = () => {
    clearTimeout(fallback);
    if (source !== null || req.destroyed) return;
    source = createReadStream(options.path);
    source.on('data', (chunk) => {
      sent += chunk.length;
      options.onProgress?.(sent);
    });
    sending = pipeline(source, req).catch((error: unknown) => {
      sendError = error;
    });
  };
  const fallback = setTimeout(send, options.continueTimeoutMs ?? CONTINUE_TIMEOUT_MS);
  req.once('continue', send);
  // Node sends the headers of an Expect: 100-continue request right away.
  req.flushHeaders();

  let response: IncomingMessage;
  try {
    response = await answered;
  } catch (error) {
    clearTimeout(fallback);
    await sending;
    throw sendFailed(sendError ?? error, options.baseUrl, { connected, sent, size: digest.size });
  }
  clearTimeout(fallback);
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    // Stop sending (or never start): the server has made up its mind.
    (source as ReturnType<typeof createReadStream> | null)?.destroy();
    const body = await bodyOf(response).catch(() => '');
    req.destroy();
    throw uploadRefused(status, body, digest, options.path);
  }
  if (source === null) {
    // A success before the body was asked for: nothing of this file was stored.
    req.destroy();
    throw new CliError(EXIT.FAILURE, `upload: the server answered HTTP ${status} before receiving the file`);
  }
  const body = await bodyOf(response);
  await sending;
  // The answer decides: it must name the digest and size that were sent (checked there). A stream
  // error after it (the request closing before its own 'finish', seen under load) changes nothing.
  return uploadedFrom(status, body, digest);
}

export interface ByteProgress {
  update(sent: number): void;
  stop(): void;
}

/** A bytes progress bar for a terminal (cli-progress), on the given stream. */
export function uploadBar(stream: OutStream, c: Colors, total: number): ByteProgress {
  const bar = terminalBar(
    stream,
    `uploading ${c.cyan('{bar}')} {percentage}% | {sentBytes} / {totalBytes} | ETA {eta_formatted}`,
  );
  const totalBytes = formatBytes(total);
  bar.start(total, 0, { sentBytes: formatBytes(0), totalBytes });
  let stopped = false;
  return {
    update(sent) {
      if (!stopped) bar.update(sent, { sentBytes: formatBytes(sent), totalBytes });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

export const noProgress: ByteProgress = { update() {}, stop() {} };
