import { createHash, type Hash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ArtifactRef } from '@camfleet/contracts';

/**
 * Downloads a patch's artifact from a pod over HTTP, hashing it as it streams: nothing but the
 * byte count and the running SHA-256 is kept, whatever the size. An interrupted transfer (network
 * error, stalled socket, a cut injected by --drop-download-rate) resumes with
 * `Range: bytes=<received>-` and `If-Range: "<sha256>"`; a server answering that with the whole
 * file (200) starts the digest over.
 */

export interface DownloadOptions {
  artifact: ArtifactRef;
  /** The pod to download from, asked before every request (the device may have failed over). */
  baseUrl: () => string;
  /** The `Authorization` header, `Device <deviceId>:<secret>` (or asked before every request). */
  authorization: string | (() => string);
  signal: AbortSignal;
  /** Byte offsets at which the device cuts its own connection (injected faults), ascending. */
  cuts?: readonly number[];
  /** Delay before retry n (0-based) after a failure that brought no new bytes. */
  backoff?: (attempt: number) => number;
  /** Give up after this many failures in a row that brought no new bytes. Default 6. */
  maxFailures?: number;
  /** A connection silent for this long counts as interrupted. Default 30 s. */
  stallMs?: number;
  /**
   * Decides when a request's connection has stalled, instead of the `stallMs` socket timeout: called
   * once per request with the function that cuts that request as stalled. Tests pass one so that
   * only the request they stalled on purpose is cut, however slowly a loaded machine serves the others.
   */
  watchStall?: StallWatch;
  /** Also write the bytes to this file (devices that keep their image, to apply deltas to it later). */
  saveTo?: string;
  /** Bytes of the file received so far (it drops to 0 if the server restarts the file), and the new ones. */
  onBytes?: (received: number, delta: number) => void;
  /** About to resume from byte `from`. */
  onResume?: (from: number) => void;
  /**
   * A fresh URL for the artifact (device.artifactUrl), asked when an absolute (presigned) URL is
   * refused: it expired. Throws when the server refuses (the attempt is over).
   */
  refreshUrl?: () => Promise<string>;
}

/** Given a request's "it stalled" cut, calls it when that request's connection stalls. */
export type StallWatch = (stalled: () => void) => void;

/** What arrived: its digest and length (`overflow`: the server sent more than the offer's size; reading stopped). */
export interface Downloaded {
  sha256: string;
  size: number;
  overflow: boolean;
}

/** A download that cannot succeed (refused, not found, or failing again and again). */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

/** An interruption worth resuming from. */
class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

export const SIMULATED_DROP = 'simulated connection drop';

export function authorizationOf(deviceId: string, secret: string): string {
  return `Device ${deviceId}:${secret}`;
}

/** `<podBaseUrl><artifact.url>` (an absolute artifact URL is taken as is). */
export function artifactUrl(baseUrl: string, path: string): URL {
  if (/^https?:\/\//i.test(path)) return new URL(path);
  return new URL(`${baseUrl.replace(/\/+$/, '')}${path.startsWith('/') ? '' : '/'}${path}`);
}

/** Null if what arrived is the artifact the offer names, else why not. */
export function artifactMismatch(artifact: ArtifactRef, got: Downloaded): string | null {
  if (got.overflow) return `size mismatch: expected ${artifact.size} bytes, got more`;
  if (got.size !== artifact.size) return `size mismatch: expected ${artifact.size} bytes, got ${got.size}`;
  if (got.sha256 !== artifact.sha256)
    return `checksum mismatch: expected ${artifact.sha256}, got ${got.sha256}`;
  return null;
}

/**
 * Downloads the artifact, hashing it, to nowhere (or to `saveTo`). Throws DownloadError, or an
 * AbortError once `signal` aborts.
 */
export async function downloadArtifact(options: DownloadOptions): Promise<Downloaded> {
  if (options.saveTo === undefined) return download(options, null);
  const fd = openSync(options.saveTo, 'w');
  try {
    return await download(options, fd);
  } finally {
    closeSync(fd);
  }
}

async function download(options: DownloadOptions, fd: number | null): Promise<Downloaded> {
  const { artifact, signal } = options;
  const maxFailures = options.maxFailures ?? 6;
  const backoff = options.backoff ?? ((attempt: number) => Math.min(5_000, 200 * 2 ** attempt));
  const cuts = [...(options.cuts ?? [])];
  let hash: Hash = createHash('sha256');
  let received = 0;
  let failures = 0;
  const restart = (): void => {
    hash = createHash('sha256');
    received = 0;
    if (fd !== null) ftruncateSync(fd, 0);
    options.onBytes?.(0, 0);
  };

  let path = artifact.url;
  /** A refreshed URL was refused before it brought a byte: the next refusal is final. */
  let refreshed = false;

  for (;;) {
    signal.throwIfAborted();
    const base = options.baseUrl();
    const url = artifactUrl(base, path);
    // The device's credential goes to its pods only; a presigned URL carries its own authority, and
    // the store's ETag is not the sha256 (its content under a digest's name never changes anyway).
    const toPod = url.origin === new URL(base).origin;
    const { authorization } = options;
    const headers: OutgoingHttpHeaders = {};
    if (toPod) headers.authorization = typeof authorization === 'string' ? authorization : authorization();
    if (received > 0) {
      headers.range = `bytes=${received}-`;
      if (toPod) headers['if-range'] = `"${artifact.sha256}"`;
      options.onResume?.(received);
    }
    /** Bytes this request brought. */
    let gained = 0;
    let problem: string;
    try {
      const response = await open(url, headers, options, signal);
      const status = response.statusCode ?? 0;
      // The total length the server says the file has (to tell a clean end from a cut), if it says.
      let total: number | null = null;
      if (status === 200) {
        if (received > 0) restart(); // the file changed, or ranges are not supported: from the top
        total = numberOf(response.headers['content-length']);
      } else if (status === 206) {
        const range = contentRange(response.headers['content-range']);
        if (range === null || range.start !== received) {
          response.destroy();
          restart();
          throw new Interrupted(`unexpected Content-Range ${response.headers['content-range'] ?? '(none)'}`);
        }
        total = range.total;
      } else {
        response.resume();
        if (status === 416 && received > 0) {
          // Nothing after `received`: we had it all (or the file is shorter than we think).
          if (received >= artifact.size) return finish(hash, received, false);
          restart();
          throw new Interrupted('range not satisfiable');
        }
        if ((status === 401 || status === 403) && !toPod && options.refreshUrl && !refreshed) {
          path = await options.refreshUrl().catch((error: unknown) => {
            throw new DownloadError(`download refused: ${error instanceof Error ? error.message : error}`);
          });
          refreshed = true;
          continue;
        }
        if (status === 401 || status === 403) throw new DownloadError(`download refused: HTTP ${status}`);
        if (status === 404) throw new DownloadError('download failed: artifact not found (HTTP 404)');
        if (status >= 500 || status === 408 || status === 429) throw new Interrupted(`HTTP ${status}`);
        throw new DownloadError(`download failed: HTTP ${status}`);
      }
      for await (const chunk of response as AsyncIterable<Buffer>) {
        let piece = chunk;
        const cut = cuts[0];
        const cutting = cut !== undefined && received + piece.length >= cut;
        if (cutting) piece = piece.subarray(0, cut - received);
        hash.update(piece);
        if (fd !== null) writeSync(fd, piece, 0, piece.length, received);
        received += piece.length;
        gained += piece.length;
        options.onBytes?.(received, piece.length);
        if (received > artifact.size) {
          response.destroy();
          return finish(hash, received, true);
        }
        if (cutting) {
          cuts.shift();
          response.destroy();
          throw new Interrupted(SIMULATED_DROP);
        }
      }
      if (total !== null && received < total) throw new Interrupted('connection closed early');
      return finish(hash, received, false);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof DownloadError) throw error;
      problem = error instanceof Error ? error.message : String(error);
    }
    // Bytes arrived: resume at once. None: back off, and give up after a few.
    if (gained > 0) {
      failures = 0;
      refreshed = false;
      continue;
    }
    if (++failures >= maxFailures) throw new DownloadError(`download failed: ${problem}`);
    await sleep(backoff(failures - 1), undefined, { signal });
  }
}

function finish(hash: Hash, size: number, overflow: boolean): Downloaded {
  return { sha256: hash.digest('hex'), size, overflow };
}

function open(
  url: URL,
  headers: OutgoingHttpHeaders,
  options: Pick<DownloadOptions, 'stallMs' | 'watchStall'>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const stallMs = options.stallMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'GET', headers, signal }, resolve);
    if (options.watchStall) options.watchStall(() => request.destroy(new Interrupted('stalled')));
    else request.setTimeout(stallMs, () => request.destroy(new Interrupted(`stalled for ${stallMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

function numberOf(header: string | undefined): number | null {
  if (header === undefined || !/^\d+$/.test(header)) return null;
  return Number(header);
}

/** `bytes <start>-<end>/<total|*>`. */
function contentRange(header: string | undefined): { start: number; total: number | null } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header ?? '');
  if (!match) return null;
  return { start: Number(match[1]), total: match[3] === '*' ? null : Number(match[3]) };
}
