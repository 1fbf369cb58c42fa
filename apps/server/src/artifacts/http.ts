import { createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { type AuditService, LimitRefused, roleAtLeast } from '@camfleet/contracts';
import { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import { addressOf } from '../admission.js';
import type { Authenticator } from '../auth.js';
import { pathOf, sendJson } from '../http/respond.js';
import { isSha256 } from './common.js';
import type { ArtifactLinks } from './links.js';
import { parseRange, type RangeRequest } from './range.js';
import { type ArtifactStorage, ArtifactTooLarge } from './storage.js';

/** After refusing an upload whose body is still arriving: how long and how much of it is read and discarded. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 4 * 1024 * 1024;

/** One answer for every refused download, so nobody learns which artifacts exist or who was offered what. */
const FORBIDDEN = { error: 'artifact not available to these credentials', code: 'FORBIDDEN' } as const;

export interface ArtifactHttpDeps {
  auth: Pick<Authenticator, 'fromRequest' | 'deviceFromAuthorization'>;
  fleet: {
    audit: AuditService;
    artifactLinks: Pick<ArtifactLinks, 'mayFetch'>;
  };
  storage: ArtifactStorage;
  maxBytes: number;
  /** Said with a refusal past `maxBytes`: where bigger files belong (the Redis store points to S3). */
  tooLargeHint?: string;
  log: Logger;
  /** Counts the artifact bytes sent to devices. */
  served?: (bytes: number) => void;
}

/** The body's digest differs from the one the uploader announced (X-Content-SHA256). */
export class DigestMismatch extends Error {
  override readonly name = 'DigestMismatch';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`content has sha256 ${actual}, not ${expected}`);
  }
}

class ClientGone extends Error {
  override readonly name = 'ClientGone';
  constructor() {
    super('the client went away before the upload finished');
  }
}

/**
 * The request body on its way to storage. It hashes what passes and, when a digest was announced,
 * fails at the end instead of ending: storage never sees a clean end of a body whose digest is
 * wrong, so it aborts and records nothing. It also keeps storage's own teardown (destroying its
 * source on error) away from the request, which must stay open to be answered.
 */
class UploadBody extends Transform {
  private readonly hash = createHash('sha256');

  constructor(private readonly expected: string | null) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.expected) this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.expected) {
      callback();
      return;
    }
    const actual = this.hash.digest('hex');
    callback(actual === this.expected ? null : new DigestMismatch(this.expected, actual));
  }
}

/**
 * `PUT /artifacts` (operators upload) and `GET|HEAD /artifacts/<sha256>` (a device downloads what
 * it is being offered, with ranges to resume). The HTTP router sends each its requests.
 */
export class ArtifactHttp {
  constructor(private readonly deps: ArtifactHttpDeps) {}

  /** An upload; `expectsContinue` when it came with `Expect: 100-continue`. */
  upload(req: IncomingMessage, res: ServerResponse, expectsContinue = false): Promise<void> {
    return this.guarded(req, res, () => this.store(req, res, expectsContinue));
  }

  /** A download of the artifact whose sha256 the path names. */
  /**
   * Sends an artifact to the device it is offered to. `device` names the device another door
   * authenticated (the DDI API's TargetToken); by default the `Device <id>:<secret>` header does.
   */
  download(
    req: IncomingMessage,
    res: ServerResponse,
    sha256: string,
    device?: () => Promise<string | null>,
  ): Promise<void> {
    return this.guarded(req, res, () => this.send(req, res, sha256, device));
  }

  /** Why an upload is too large, and where a file that size belongs. */
  private tooLarge(): string {
    const { maxBytes, tooLargeHint } = this.deps;
    return `artifacts may have at most ${maxBytes} bytes (FLEET_ARTIFACT_MAX_BYTES)${tooLargeHint ? `; ${tooLargeHint}` : ''}`;
  }

  /** A request whose method the route does not take. */
  refuseMethod(req: IncomingMessage, res: ServerResponse, allow: string): void {
    this.refuse(req, res, 405, { error: 'method not allowed', code: 'METHOD_NOT_ALLOWED' }, { allow });
  }

  /**
   * A login under the failed-login throttle: its result, or undefined once a throttled client was
   * answered 429 with Retry-After.
   */
  private async throttledLogin<T>(
    req: IncomingMessage,
    res: ServerResponse,
    login: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await login();
    } catch (error) {
      if (!(error instanceof TRPCError && error.cause instanceof LimitRefused)) throw error;
      const { limit } = error.cause;
      this.refuse(
        req,
        res,
        429,
        { error: error.message, code: 'TOO_MANY_REQUESTS', limit },
        { 'retry-after': String(limit.retryAfterSeconds ?? 1) },
      );
      return undefined;
    }
  }

  private async guarded(req: IncomingMessage, res: ServerResponse, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.deps.log.error({ err: error, path: pathOf(req), method: req.method }, 'artifact request failed');
      if (!res.headersSent)
        this.refuse(req, res, 500, { error: 'internal error', code: 'INTERNAL_SERVER_ERROR' });
      else res.destroy();
    }
  }

  private async store(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const { auth, storage, maxBytes, log } = this.deps;
    const principal = await this.throttledLogin(req, res, () => auth.fromRequest(req, addressOf(req)));
    if (!principal) return;
    if (principal.kind !== 'admin') {
      return this.refuse(
        req,
        res,
        401,
        { error: 'admin token required', code: 'UNAUTHORIZED' },
        { 'www-authenticate': 'Bearer' },
      );
    }
    const claimedHeader = req.headers['x-content-sha256'];
    const claimed = typeof claimedHeader === 'string' ? claimedHeader.trim().toLowerCase() : null;
    const audit = (ok: boolean, input: Record<string, unknown>, error: string | null) =>
      this.deps.fleet.audit
        .record({
          actor: principal.name,
          role: principal.role,
          action: 'artifacts.upload',
          input: JSON.stringify(input),
          ok,
          error,
        })
        .catch((err: unknown) => log.warn({ err }, 'artifact upload not audited'));
    const refuseAudited = async (status: number, code: string, error: string) => {
      await audit(false, { sha256: claimed }, error);
      this.refuse(req, res, status, { error, code });
    };

    if (!roleAtLeast(principal.role, 'operator')) {
      return refuseAudited(403, 'FORBIDDEN', `role operator required, token has ${principal.role}`);
    }
    if (claimed !== null && !isSha256(claimed)) {
      return refuseAudited(400, 'INVALID_INPUT', 'X-Content-SHA256 must be 64 hex digits');
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      return refuseAudited(
        415,
        'UNSUPPORTED_ENCODING',
        'send the artifact as it is, without Content-Encoding',
      );
    }
    const announced = req.headers['content-length'];
    if (announced !== undefined && Number(announced) > maxBytes) {
      return refuseAudited(413, 'TOO_LARGE', this.tooLarge());
    }
    if (expectsContinue) res.writeContinue();

    const body = new UploadBody(claimed);
    const onClose = () => {
      if (!req.complete) body.destroy(new ClientGone());
    };
    const onError = (error: Error) => body.destroy(error);
    req.once('close', onClose);
    req.once('error', onError);
    req.pipe(body);
    try {
      const stored = await storage.put(body, maxBytes);
      await audit(true, { sha256: stored.sha256, size: stored.size, created: stored.created }, null);
      log.info(
        { sha256: stored.sha256, size: stored.size, created: stored.created, actor: principal.name },
        'artifact uploaded',
      );
      sendJson(res, stored.created ? 201 : 200, {
        sha256: stored.sha256,
        size: stored.size,
        storage: storage.describe(stored.sha256),
      });
    } catch (error) {
      req.unpipe(body);
      if (error instanceof ClientGone || req.socket.destroyed) {
        log.info({ actor: principal.name }, 'artifact upload abandoned by the client');
        await audit(false, { sha256: claimed }, 'client went away');
        return;
      }
      if (error instanceof ArtifactTooLarge) {
        return refuseAudited(413, 'TOO_LARGE', this.tooLarge());
      }
      if (error instanceof DigestMismatch) {
        await audit(false, { sha256: claimed, actual: error.actual }, error.message);
        return this.refuse(req, res, 422, {
          error: error.message,
          code: 'DIGEST_MISMATCH',
          expected: error.expected,
          actual: error.actual,
        });
      }
      await audit(false, { sha256: claimed }, 'internal error');
      throw error;
    } finally {
      req.off('close', onClose);
      req.off('error', onError);
    }
  }

  private async send(
    req: IncomingMessage,
    res: ServerResponse,
    sha256: string,
    device?: () => Promise<string | null>,
  ): Promise<void> {
    const { auth, fleet, storage, log } = this.deps;
    const login = await this.throttledLogin(
      req,
      res,
      device ?? (() => auth.deviceFromAuthorization(req.headers.authorization, addressOf(req))),
    );
    if (login === undefined) return;
    const deviceId = login;
    const offered =
      deviceId !== null && isSha256(sha256) && (await fleet.artifactLinks.mayFetch(deviceId, sha256));
    const info = offered ? await storage.stat(sha256) : null;
    if (!info) {
      if (offered) log.warn({ sha256, deviceId }, 'an offered artifact is missing from storage');
      return sendJson(res, 403, FORBIDDEN);
    }

    const etag = `"${sha256}"`;
    const headers: OutgoingHttpHeaders = {
      etag,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'cache-control': 'private, no-transform',
      'x-content-type-options': 'nosniff',
      'repr-digest': `sha-256=:${Buffer.from(sha256, 'hex').toString('base64')}:`,
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      return void res.end();
    }
    // Ranges are defined for GET only; If-Range with anything but our (strong) ETag means "send it all".
    const ifRange = req.headers['if-range'];
    const wanted: RangeRequest =
      req.method === 'GET' &&
      (ifRange === undefined || (typeof ifRange === 'string' && ifRange.trim() === etag))
        ? parseRange(req.headers.range, info.size)
        : { kind: 'whole' };
    if (wanted.kind === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${info.size}`, 'content-length': 0 });
      return void res.end();
    }
    const range = wanted.kind === 'partial' ? wanted.range : undefined;
    if (range) {
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${range.start}-${range.end}/${info.size}`,
        'content-length': range.end - range.start + 1,
      });
    } else {
      res.writeHead(200, { ...headers, 'content-length': info.size });
    }
    if (req.method === 'HEAD') return void res.end();
    // pipeline: backpressure from the socket, and the storage read is torn down if the client leaves.
    await new Promise<void>((resolve) => {
      const counted = new Transform({
        transform: (chunk: Buffer, _encoding, callback) => {
          this.deps.served?.(chunk.length);
          callback(null, chunk);
        },
      });
      pipeline(storage.read(sha256, range), counted, res, (error) => {
        if (error && !res.writableFinished && error.name !== 'AbortError' && !isPrematureClose(error)) {
          log.warn({ err: error, sha256, deviceId }, 'artifact download failed');
        }
        resolve();
      });
    });
  }

  /**
   * Answers a request without reading its body. If the body is still arriving, it is read and
   * dropped for a moment (up to LINGER_MS / LINGER_BYTES) so the answer is not lost to a
   * connection reset, then the connection is cut.
   */
  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: object,
    headers: OutgoingHttpHeaders = {},
  ): void {
    sendJson(res, status, body, headers);
    if (req.complete || req.destroyed) return;
    let drained = 0;
    const cut = () => {
      clearTimeout(timer);
      req.socket.destroy();
    };
    const timer = setTimeout(cut, LINGER_MS);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > LINGER_BYTES) cut();
    });
    req.once('end', () => clearTimeout(timer));
    req.once('close', () => clearTimeout(timer));
    req.resume();
  }
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

function isPrematureClose(error: Error): boolean {
  return 'code' in error && error.code === 'ERR_STREAM_PREMATURE_CLOSE';
}
