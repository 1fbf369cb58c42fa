// Over 400 lines: every case talks to the one fake upload endpoint set up here, so they stay in one file.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeys, verifyManifest } from '@camfleet/client';
import type { PublishPatchInput } from '@camfleet/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasAnsi, patchFixture, run, serverError, TEST_ENV } from '../../test-helpers.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

type Responder = (req: IncomingMessage, res: ServerResponse, body: () => Promise<Buffer>) => void;

/** Answers like the server's upload endpoint: 201 with {sha256, size, storage} of what it read. */
const storeIt: Responder = async (_req, res, body) => {
  const bytes = await body();
  res.writeHead(201, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      storage: 'filesystem:/var/lib/camfleet/artifacts',
    }),
  );
};

/** Refuses with this status without reading the body (as a server does for 401/413). */
const refuse =
  (status: number, message: string): Responder =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ error: message }));
  };

/** A stand-in for the pod's `PUT /artifacts` endpoint only (tRPC calls go to the fake client). */
const server = {
  received: [] as Received[],
  respond: storeIt,
  url: '',
  http: createServer((req, res) => {
    const received: Received = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.alloc(0),
    };
    server.received.push(received);
    let read: Promise<Buffer> | null = null;
    const body = () => {
      read ??= new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          received.body = Buffer.concat(chunks);
          resolve(received.body);
        });
        req.on('error', reject);
      });
      return read;
    };
    server.respond(req, res, body);
  }),
};

let dir = '';
let env: Record<string, string> = {};

beforeAll(async () => {
  await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve));
  server.url = `http://127.0.0.1:${(server.http.address() as AddressInfo).port}`;
  env = { ...TEST_ENV, FLEET_URL: server.url };
  dir = await mkdtemp(join(tmpdir(), 'fleet-publish-'));
});

afterAll(async () => {
  server.http.closeAllConnections();
  await new Promise<void>((resolve) => server.http.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  server.received = [];
  server.respond = storeIt;
});

async function artifactFile(
  name: string,
  size: number,
): Promise<{ path: string; bytes: Buffer; sha256: string }> {
  const bytes = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** patch.publish answers with the patch it was asked for, as the server would. */
const routes = {
  'patch.publish': (input: unknown) => {
    const i = input as PublishPatchInput;
    return patchFixture({
      name: i.name,
      version: i.version,
      notes: i.notes,
      artifact: i.artifact ? { ...i.artifact, url: `/artifacts/${i.artifact.sha256}` } : null,
      signature: i.signature ?? null,
    });
  },
};

const publishArgs = (path: string, ...more: string[]) => [
  'patch',
  'publish',
  path,
  '--name',
  'cam-firmware',
  '--version',
  '1.5.0',
  ...more,
];

describe('patch publish FILE', () => {
  it('streams the exact bytes with the right headers, then publishes the artifact', async () => {
    // Several read chunks (64 KiB each) and an odd size.
    const file = await artifactFile('fw.bin', 300 * 1024 + 7);
    const result = await run(publishArgs(file.path, '--notes', 'night mode'), { routes, env });
    expect(result.stderr).toMatch(/uploaded .*fw\.bin: 300 KiB, sha256 [0-9a-f]{64}/);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('pat_abc123\n');

    expect(server.received).toHaveLength(1);
    const [upload] = server.received;
    expect(upload?.method).toBe('PUT');
    expect(upload?.url).toBe('/artifacts');
    expect(upload?.headers.authorization).toBe('Bearer secret');
    expect(upload?.headers['content-type']).toBe('application/octet-stream');
    expect(upload?.headers['content-length']).toBe(String(file.bytes.length));
    expect(upload?.headers['x-content-sha256']).toBe(file.sha256);
    expect(upload?.body.equals(file.bytes)).toBe(true);

    expect(result.calls).toEqual([
      {
        path: 'patch.publish',
        input: {
          name: 'cam-firmware',
          version: '1.5.0',
          notes: 'night mode',
          artifact: { sha256: file.sha256, size: file.bytes.length },
        },
      },
    ]);
  });

  it('uploads under the path of FLEET_URL, and takes --url/--token', async () => {
    const file = await artifactFile('small.bin', 10);
    const result = await run([...publishArgs(file.path), '--url', `${server.url}/pod-a/`, '--token', 't2'], {
      routes,
      env,
    });
    expect(result.code).toBe(0);
    expect(server.received[0]?.url).toBe('/pod-a/artifacts');
    expect(server.received[0]?.headers.authorization).toBe('Bearer t2');
  });

  it('uploads an empty file', async () => {
    const file = await artifactFile('empty.bin', 0);
    const result = await run(publishArgs(file.path), { routes, env });
    expect(result.code).toBe(0);
    expect(server.received[0]?.body.length).toBe(0);
    expect((result.calls[0]?.input as PublishPatchInput | undefined)?.artifact).toEqual({
      sha256: file.sha256,
      size: 0,
    });
  });

  it('--json prints the Patch, with its id and artifact', async () => {
    const file = await artifactFile('fw-json.bin', 2048);
    const result = await run(['--json', ...publishArgs(file.path)], { routes, env });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const patch = JSON.parse(result.stdout) as { id: string; artifact: { sha256: string; size: number } };
    expect(patch.id).toBe('pat_abc123');
    expect(patch.artifact.sha256).toBe(file.sha256);
    expect(patch.artifact.size).toBe(2048);
  });

  it('draws a progress bar on a TTY stderr only', async () => {
    const file = await artifactFile('fw-bar.bin', 200 * 1024);
    const tty = await run(publishArgs(file.path), { routes, env, stderrTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/uploading .*100% \| 200 KiB \/ 200 KiB/);
    expect(tty.stderr).toContain('\u001b[?25l'); // cursor hidden while drawing…
    expect(tty.stderr).toContain('\u001b[?25h'); // …and shown again
    expect(tty.stdout).toBe('pat_abc123\n');

    const piped = await run(publishArgs(file.path), { routes, env, tty: true });
    expect(piped.code).toBe(0);
    expect(piped.stderr).not.toMatch(/uploading|%/);
    expect(hasAnsi(piped.stderr)).toBe(false);

    // --json: stdout is the document alone; the bar still goes to a terminal's stderr.
    const json = await run(['--json', ...publishArgs(file.path)], { routes, env, stderrTTY: true });
    expect(json.stderr).toMatch(/100%/);
    expect(() => JSON.parse(json.stdout)).not.toThrow();
  });

  it('signs the manifest with --sign-key: the signature verifies against the public key', async () => {
    const keys = generateSigningKeys();
    const keyFile = join(dir, 'release.key.pem');
    await writeFile(keyFile, keys.privateKeyPem, { mode: 0o600 });
    const file = await artifactFile('fw-signed.bin', 4096);
    const result = await run(publishArgs(file.path, '--sign-key', keyFile), { routes, env });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`signed by key ${keys.keyId}`);
    const input = result.calls[0]?.input as PublishPatchInput;
    expect(input.signature?.keyId).toBe(keys.keyId);
    const manifest = { name: 'cam-firmware', version: '1.5.0', sha256: file.sha256, size: 4096 };
    expect(verifyManifest(manifest, input.signature ?? null, [keys.publicKeyPem])).toBe('valid');
    // Another name, version or digest does not verify: the signature covers the whole manifest.
    expect(
      verifyManifest({ ...manifest, version: '1.5.1' }, input.signature ?? null, [keys.publicKeyPem]),
    ).toBe('invalid');
  });

  it('refuses a --sign-key that is not an Ed25519 private key before sending anything', async () => {
    const keys = generateSigningKeys();
    const publicFile = join(dir, 'only.pub.pem');
    await writeFile(publicFile, keys.publicKeyPem);
    const file = await artifactFile('fw-badkey.bin', 100);
    for (const key of [publicFile, join(dir, 'missing.pem')]) {
      const result = await run(publishArgs(file.path, '--sign-key', key), { routes, env });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--sign-key/);
      expect(server.received).toEqual([]);
      expect(result.connects).toEqual([]);
    }
  });

  it.each([
    [401, 5, /access denied: upload refused \(HTTP 401: bad token\)/],
    [403, 5, /access denied: upload refused \(HTTP 403: viewer may not upload\)/],
    [413, 2, /fw-big\.bin is too large for the server \(1 MiB, 1048576 bytes; HTTP 413: too big\)/],
    [422, 1, /other bytes than were hashed .*did .*fw-big\.bin change during the upload\?/],
    [404, 1, /does not accept artifact uploads/],
    [500, 1, /upload failed \(HTTP 500: boom\)/],
    [503, 7, /server unavailable/],
  ])('HTTP %i → exit %i, nothing published', async (status, code, message) => {
    const texts: Record<number, string> = {
      401: 'bad token',
      403: 'viewer may not upload',
      413: 'too big',
      500: 'boom',
    };
    server.respond = refuse(status, texts[status] ?? 'no');
    // Large enough that the server answers long before it would have read everything.
    const file = await artifactFile('fw-big.bin', 1024 * 1024);
    const result = await run(publishArgs(file.path), { routes, env });
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.calls).toEqual([]);
  });

  it('exit 7 when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const file = await artifactFile('fw-down.bin', 100);
    const result = await run(publishArgs(file.path), {
      routes,
      env: { ...TEST_ENV, FLEET_URL: `http://127.0.0.1:${port}` },
    });
    expect(result.code).toBe(7);
    expect(result.stderr).toBe(
      `error: cannot reach the fleet server at http://127.0.0.1:${port} (ECONNREFUSED)\n`,
    );
    expect(result.calls).toEqual([]);
  });

  it('exit 7 when the server cuts the upload off without an answer', async () => {
    server.respond = (req) => {
      req.once('data', () => req.socket.destroy());
    };
    const file = await artifactFile('fw-cut.bin', 1024 * 1024);
    const result = await run(publishArgs(file.path), { routes, env });
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(
      /closed the connection during the upload, after about .* of 1 MiB \(ECONNRESET|EPIPE\)/,
    );
    expect(result.calls).toEqual([]);
  });

  it('Ctrl-C stops the upload: exit 130, nothing published', async () => {
    const controller = new AbortController();
    server.respond = (req) => {
      // Never answers; the first bytes arriving are the moment to press Ctrl-C.
      req.once('data', () => controller.abort());
    };
    const file = await artifactFile('fw-abort.bin', 1024 * 1024);
    const result = await run(publishArgs(file.path), { routes, env, signal: controller.signal });
    expect(result.code).toBe(130);
    expect(result.calls).toEqual([]);
  });

  it('exit 1 when the server says it stored something else', async () => {
    server.respond = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sha256: '0'.repeat(64), size: 1, storage: 'redis' }));
    };
    const file = await artifactFile('fw-other.bin', 100);
    const result = await run(publishArgs(file.path), { routes, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the server stored sha256 0{64}/);
    expect(result.calls).toEqual([]);
  });

  it('says when the server had the bytes already (200)', async () => {
    server.respond = async (_req, res, body) => {
      const bytes = await body();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          sha256: createHash('sha256').update(bytes).digest('hex'),
          size: bytes.length,
          storage: 'redis',
        }),
      );
    };
    const file = await artifactFile('fw-again.bin', 100);
    const result = await run(publishArgs(file.path), { routes, env });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/already stored .*fw-again\.bin: 100 B, sha256 [0-9a-f]{64} \(redis\)/);
  });

  it('maps a refused publish like any other call (the upload happened)', async () => {
    const file = await artifactFile('fw-refused.bin', 100);
    const result = await run(publishArgs(file.path), {
      routes: {
        'patch.publish': () => {
          throw serverError('FORBIDDEN', 'FORBIDDEN', 'viewer may not publish', 403);
        },
      },
      env,
    });
    expect(result.code).toBe(5);
    expect(server.received).toHaveLength(1);
  });
});

describe('patch publish: which form', () => {
  it('keeps the positional name form (no file, no upload)', async () => {
    const result = await run(['patch', 'publish', 'cam-firmware', '--version', '1.4.2'], { routes, env });
    expect(result.code).toBe(0);
    expect(result.calls[0]?.input).toEqual({ name: 'cam-firmware', version: '1.4.2', notes: '' });
    expect(server.received).toEqual([]);
  });

  it('treats the argument as a name without --name, and hints at --name for a file path', async () => {
    await writeFile(join(dir, 'cam-firmware'), 'x');
    const result = await run(['patch', 'publish', join(dir, 'cam-firmware'), '--version', '1'], {
      routes,
      env,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /cam-firmware is a file, not a patch name: to upload it, name the patch with --name/,
    );
    expect(server.received).toEqual([]);
    expect(result.connects).toEqual([]);
  });

  it('publishes without a file with --name alone', async () => {
    const result = await run(['patch', 'publish', '--name', 'cam-firmware', '--version', '1.4.2'], {
      routes,
      env,
    });
    expect(result.code).toBe(0);
    expect(result.calls[0]?.input).toEqual({ name: 'cam-firmware', version: '1.4.2', notes: '' });
  });

  it.each([
    [['patch', 'publish', '--version', '1'], /give the patch name/],
    [['patch', 'publish', '/nonexistent/fw.bin', '--name', 'cam-firmware', '--version', '1'], /no such file/],
    [['patch', 'publish', '.', '--name', 'cam-firmware', '--version', '1'], /not a regular file/],
    [
      ['patch', 'publish', 'cam-firmware', '--version', '1', '--sign-key', 'k.pem'],
      /--sign-key signs an uploaded/,
    ],
  ])('%j: usage error, nothing sent', async (argv, message) => {
    const result = await run(argv, { routes, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.connects).toEqual([]);
    expect(server.received).toEqual([]);
  });

  it('checks name and version before uploading', async () => {
    const file = await artifactFile('fw-badname.bin', 10);
    const result = await run(['patch', 'publish', file.path, '--name', 'bad/name', '--version', '1'], {
      routes,
      env,
    });
    expect(result.code).toBe(2);
    expect(server.received).toEqual([]);
  });

  it('documents the rule in --help', async () => {
    const result = await run(['patch', 'publish', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/argument is a FILE when --name is given/);
  });
});
