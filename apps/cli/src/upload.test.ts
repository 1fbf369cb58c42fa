import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from './errors.js';
import { artifactsUrl, digestFile, uploadArtifact } from './upload.js';

let dir = '';
let server: Server | null = null;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-upload-'));
  return () => rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  const s = server;
  server = null;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A server that handles `Expect: 100-continue` itself, as the pod's upload endpoint does. */
async function listen(
  checkContinue: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; bodyBytes: () => number }> {
  let bodyBytes = 0;
  server = createServer();
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    checkContinue(req, res);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodyBytes: () => bodyBytes };
}

async function file(size: number): Promise<string> {
  const path = join(dir, `f-${size}-${Math.random()}`);
  await writeFile(path, randomBytes(size));
  return path;
}

const answerStored = (req: IncomingMessage, res: ServerResponse) => {
  const hash = createHash('sha256');
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sha256: hash.digest('hex'), size, storage: 'redis' }));
  });
};

describe('uploadArtifact', () => {
  it('asks for 100-continue: a refusal comes before any byte of the file is sent', async () => {
    const pod = await listen((_req, res) => {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'artifacts may have at most 1024 bytes', code: 'TOO_LARGE' }));
    });
    const path = await file(8 * 1024 * 1024);
    const error = await uploadArtifact({
      baseUrl: pod.url,
      token: 't',
      path,
      digest: await digestFile(path),
      // The fallback must not send the body before the refusal is read, however slow this machine
      // is: it never fires here (its own test is below).
      continueTimeoutMs: 60_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(
      /too large for the server .*HTTP 413: artifacts may have at most 1024/,
    );
    expect(pod.bodyBytes()).toBe(0);
  });

  it('sends the body once the server says continue', async () => {
    const pod = await listen((req, res) => {
      res.writeContinue();
      answerStored(req, res);
    });
    const path = await file(100_000);
    const digest = await digestFile(path);
    const progress: number[] = [];
    const uploaded = await uploadArtifact({
      baseUrl: pod.url,
      token: 't',
      path,
      digest,
      onProgress: (n) => progress.push(n),
      // Only the server's continue can start the body here, not the fallback.
      continueTimeoutMs: 60_000,
    });
    expect(uploaded).toEqual({ ...digest, storage: 'redis', created: true });
    expect(progress.at(-1)).toBe(100_000);
  });

  it('sends the body anyway when the server never answers the Expect', async () => {
    const pod = await listen(answerStored);
    const path = await file(1000);
    const digest = await digestFile(path);
    const uploaded = await uploadArtifact({
      baseUrl: pod.url,
      token: 't',
      path,
      digest,
      continueTimeoutMs: 50,
    });
    expect(uploaded.sha256).toBe(digest.sha256);
    expect(pod.bodyBytes()).toBe(1000);
  });
});

describe('artifactsUrl', () => {
  it.each([
    ['http://h:1', 'http://h:1/artifacts'],
    ['http://h:1/', 'http://h:1/artifacts'],
    ['https://h/pod-a//', 'https://h/pod-a/artifacts'],
    ['http://h:1/x?y=1#z', 'http://h:1/x/artifacts'],
  ])('%s → %s', (base, url) => {
    expect(artifactsUrl(base).toString()).toBe(url);
  });
});
