import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress, TargetPolicy } from './targets.js';

/** What one POST came to. Only a 2xx answer delivers; a redirect is not followed. */
export type PostOutcome =
  | { ok: true; status: number }
  | {
      ok: false;
      kind: 'refused' | 'timeout' | 'network' | 'redirect' | 'http';
      status: number | null;
      error: string;
    };

export interface PostRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  policy: TargetPolicy;
}

/** How much of an error answer's body is kept for its message. */
const ERROR_BODY_BYTES = 256;

/** Text from a receiver, for logs and the delivery log: one line, no control characters, bounded. */
function oneLine(text: string, max = 200): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A lookup that answers the address already checked, whatever DNS says now. */
function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}

/** Settles once: the first of the answer, an error, or the deadline. */
function once<T>(resolve: (value: T) => void): (value: T) => void {
  let done = false;
  return (value) => {
    if (done) return;
    done = true;
    resolve(value);
  };
}

/**
 * POSTs a body to a webhook URL: the host is resolved and checked against the policy (SSRF), the
 * connection goes to the checked address, the whole request (DNS included) has `timeoutMs`, no
 * redirect is followed, and at most a few hundred bytes of the answer are read.
 */
export async function postWebhook(request: PostRequest): Promise<PostOutcome> {
  const started = Date.now();
  const url = new URL(request.url);
  const timeout = `no answer within ${request.timeoutMs} ms`;
  let timer: NodeJS.Timeout | undefined;
  const resolution = await Promise.race([
    request.policy.resolve(url.hostname),
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), request.timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (resolution === null) return { ok: false, kind: 'timeout', status: null, error: timeout };
  if (!resolution.ok) return { ok: false, kind: 'refused', status: null, error: resolution.reason };
  const [target] = resolution.addresses;
  if (!target) return { ok: false, kind: 'refused', status: null, error: `${url.hostname} does not resolve` };
  const remaining = Math.max(1, request.timeoutMs - (Date.now() - started));

  return new Promise<PostOutcome>((resolve) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'POST',
      headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      lookup: pinnedLookup(target),
      agent: false,
    });
    const settle = once((outcome: PostOutcome) => {
      clearTimeout(deadline);
      req.destroy();
      resolve(outcome);
    });
    const deadline = setTimeout(
      () => settle({ ok: false, kind: 'timeout', status: null, error: timeout }),
      remaining,
    );
    req.on('response', (res: IncomingMessage) => answered(res, settle));
    req.on('error', (err: NodeJS.ErrnoException) =>
      settle({ ok: false, kind: 'network', status: null, error: oneLine(err.code ?? err.message) }),
    );
    req.end(request.body);
  });
}

/** The outcome of an answer: 2xx at once; otherwise a little of its body for the message. */
function answered(res: IncomingMessage, settle: (outcome: PostOutcome) => void): void {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) {
    settle({ ok: true, status });
    return;
  }
  if (status >= 300 && status < 400) {
    const location = oneLine(String(res.headers.location ?? 'nowhere'));
    settle({
      ok: false,
      kind: 'redirect',
      status,
      error: `HTTP ${status}: a redirect (to ${location}), not followed`,
    });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = () => {
    const text = oneLine(Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_BYTES));
    settle({
      ok: false,
      kind: 'http',
      status,
      error: text === '' ? `HTTP ${status}` : `HTTP ${status}: ${text}`,
    });
  };
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= ERROR_BODY_BYTES) finish();
  });
  res.on('end', finish);
  res.on('error', finish);
}
