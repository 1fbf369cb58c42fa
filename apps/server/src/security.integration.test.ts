import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminClient, createDeviceClient, trpcCodeOf } from '@camfleet/client';
import { appRouter, createCallerFactory, type FleetContext, type Principal } from '@camfleet/contracts';
import { waitFor } from '@camfleet/test-support';
import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sha256 } from './fleet/secrets.js';
import { createLogger } from './log.js';
import { ADMIN_TOKEN, ENROLL_TOKEN, failure, PodUnderTest, podPerSuite } from './testing/wire.js';

const suite = podPerSuite();

/** Opens a raw WebSocket the way the tRPC client does, with the given connectionParams. */
function rawSocket(url: string, params: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/trpc?connectionParams=1`);
    ws.once('open', () => {
      ws.send(JSON.stringify({ method: 'connectionParams', data: params }));
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

/** Enrolls with a token: the credential refused, either on connect or by the enroll call. */
async function tryEnroll(deviceId: string, enrollToken: string): Promise<'enrolled' | 'refused'> {
  let rejected = false;
  const c = createDeviceClient({
    baseUrl: suite.pod.url,
    deviceId,
    credentials: { enrollToken },
    onRejected: () => {
      rejected = true;
      c.wsClient.close();
    },
  });
  try {
    await c.client.device.enroll.mutate();
    return 'enrolled';
  } catch (error) {
    if (rejected || trpcCodeOf(error) === 'UNAUTHORIZED') return 'refused';
    throw error;
  } finally {
    c.wsClient.close();
  }
}

const closed = (ws: WebSocket) =>
  new Promise<{ code: number; at: number }>((resolve) =>
    ws.once('close', (code) => resolve({ code, at: Date.now() })),
  );

describe('devices act only as themselves', () => {
  it('refuses another device’s id with my secret, and unknown ids alike', async () => {
    const a = await suite.pod.enroll('imp-a');
    await suite.pod.enroll('imp-b');
    for (const deviceId of ['imp-b', 'no-such-device']) {
      const device = await suite.pod.connectDevice(deviceId, a);
      await waitFor(() => device.rejected(), { what: `${deviceId} refused` });
      expect(device.rejected()).toBe('credentials refused');
    }
  });

  it('refuses to let an enrollment token take over an enrolled id', async () => {
    await suite.pod.enroll('taken');
    const thief = await suite.pod.connectDevice('taken', { enrollToken: ENROLL_TOKEN });
    await waitFor(() => thief.rejected(), { what: 'the takeover to be refused' });
    expect(thief.rejected()).toBe('credentials refused');
  });

  it('lets an enrollee do nothing but enroll', async () => {
    const enrollee = createDeviceClient({
      baseUrl: suite.pod.url,
      deviceId: 'fresh',
      credentials: { enrollToken: ENROLL_TOKEN },
    });
    expect(
      await failure(enrollee.client.device.register.mutate({ model: 'm', firmwareVersion: '1' })),
    ).toMatchObject({
      trpc: 'UNAUTHORIZED',
    });
    expect(await failure(enrollee.client.patch.list.query())).toMatchObject({ trpc: 'UNAUTHORIZED' });
    enrollee.wsClient.close();
  });
});

describe('revocation and rotation', () => {
  it('closes a revoked device’s open connection, pushed, and refuses it afterwards', async () => {
    const device = await suite.pod.connectDevice('rev-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const socket = await waitFor(() => device.wsClient.connection?.ws, { what: 'socket' });
    const closing = new Promise<number>((resolve) =>
      socket.addEventListener('close', (e) => resolve(e.code)),
    );
    await suite.pod.admin.client.devices.credentials.revoke.mutate({ deviceId: 'rev-1' });
    // No clock: revocation has no polling fallback (the pod kicks the device through pub/sub), so a
    // 4001 close at all proves the push path; the test timeout bounds the wait.
    expect(await closing).toBe(4001);
    const again = await suite.pod.connectDevice('rev-1', device.credentials);
    await waitFor(() => again.rejected(), { what: 'refusal after revoke' });
  });

  it('rotation: the new secret works, the old one stops', async () => {
    const old = await suite.pod.enroll('rot-1');
    const { secret } = await suite.pod.admin.client.devices.credentials.rotate.mutate({ deviceId: 'rot-1' });
    const stale = await suite.pod.connectDevice('rot-1', old);
    await waitFor(() => stale.rejected(), { what: 'old secret refused' });
    const fresh = await suite.pod.connectDevice('rot-1', { secret });
    await fresh.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
  });

  it('a second connection of the same device replaces the first', async () => {
    const creds = await suite.pod.enroll('twin');
    const first = await suite.pod.connectDevice('twin', creds);
    await first.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const socket = await waitFor(() => first.wsClient.connection?.ws, { what: 'socket' });
    const replaced = new Promise<number>((resolve) =>
      socket.addEventListener('close', (e) => resolve(e.code)),
    );
    const second = await suite.pod.connectDevice('twin', creds);
    await second.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    expect(await replaced).toBe(4002);
  });

  it('a connection that only authenticates does not replace the live one; it does once it registers', async () => {
    const creds = await suite.pod.enroll('ghost');
    const live = await suite.pod.connectDevice('ghost', creds);
    await live.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const socket = await waitFor(() => live.wsClient.connection?.ws, { what: 'socket' });
    let closedWith: number | null = null;
    socket.addEventListener('close', (e) => {
      closedWith = e.code;
    });
    // A client library reconnecting for a connection its app gave up on: authenticated, then silent.
    const stray = createDeviceClient({ baseUrl: suite.pod.url, deviceId: 'ghost', credentials: creds });
    try {
      // A call on it resolves only once the server has authenticated it (a report of nothing: it
      // changes no presence).
      await expect(
        stray.client.device.report.mutate({ deliveryId: 'ro_none:ghost', attempt: 1, status: 'installed' }),
      ).rejects.toThrow();
      // A replacement on authentication would close the live socket before the pod answers
      // anything sent on it afterwards: its 4002 frame comes ahead of this register's answer on the
      // same socket, and a close frame received makes the socket CLOSING at once. The answer with
      // the socket still open is the barrier that no close was sent.
      expect((await live.client.device.register.mutate({ model: 'm', firmwareVersion: '1' })).online).toBe(
        true,
      );
      expect(socket.readyState).toBe(WebSocket.OPEN);
      expect(closedWith).toBeNull();
      await stray.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
      await waitFor(() => closedWith === 4002, { what: 'the replaced connection to close' });
    } finally {
      // Both clients would reconnect (the replaced one too) and the pod's presence repair would then
      // write in the middle of a later test: close them and wait until the device is recorded offline.
      live.wsClient.close();
      stray.wsClient.close();
      await waitFor(
        async () => !(await suite.pod.admin.client.devices.get.query({ deviceId: 'ghost' })).device.online,
        { what: 'ghost to be offline' },
      );
    }
  });
});

describe('enrollment tokens', () => {
  it('honours uses and revocation', async () => {
    const once = await suite.pod.admin.client.enrollTokens.create.mutate({ name: 'one-shot', uses: 1 });
    expect(await tryEnroll('et-1', once.token)).toBe('enrolled');
    expect(await tryEnroll('et-2', once.token)).toBe('refused');
    const revoked = await suite.pod.admin.client.enrollTokens.create.mutate({ name: 'gone' });
    await suite.pod.admin.client.enrollTokens.revoke.mutate({ id: revoked.id });
    expect(await tryEnroll('et-3', revoked.token)).toBe('refused');
    const [listed] = (await suite.pod.admin.client.enrollTokens.list.query()).filter((x) => x.id === once.id);
    expect(listed?.usesLeft).toBe(0);
  });
});

describe('admin tokens and roles', () => {
  it('refuses unknown, revoked and expired tokens', async () => {
    const viewer = await suite.pod.admin.client.tokens.create.mutate({ name: 'reader', role: 'viewer' });
    const expired = await suite.pod.admin.client.tokens.create.mutate({
      name: 'old',
      role: 'admin',
      expiresInMs: 60_000,
    });
    // Its expiry passes (only the time moves; the check is the server's, against Redis time).
    await suite.pod.redis.hset(`cf:{g}:token:${expired.id}`, 'expiresAt', 1);
    const revoked = await suite.pod.admin.client.tokens.create.mutate({ name: 'ex', role: 'admin' });
    await suite.pod.admin.client.tokens.revoke.mutate({ id: revoked.id });
    for (const token of [
      `cft_${'0'.repeat(12)}_${'x'.repeat(43)}`,
      expired.token,
      revoked.token,
      'garbage',
    ]) {
      const c = createAdminClient(suite.pod.url, token);
      expect(await failure(c.client.patch.list.query())).toMatchObject({ trpc: 'UNAUTHORIZED' });
      c.close();
    }
    const reader = createAdminClient(suite.pod.url, viewer.token);
    expect(await reader.client.rollout.list.query()).toBeInstanceOf(Array);
    reader.close();
  });

  it('keeps each role to its calls, and audits every attempt', async () => {
    const viewer = await suite.pod.admin.client.tokens.create.mutate({ name: 'v', role: 'viewer' });
    const operator = await suite.pod.admin.client.tokens.create.mutate({ name: 'o', role: 'operator' });
    const v = createAdminClient(suite.pod.url, viewer.token);
    const o = createAdminClient(suite.pod.url, operator.token);
    expect(await failure(v.client.patch.publish.mutate({ name: 'fw', version: '9' }))).toMatchObject({
      trpc: 'FORBIDDEN',
    });
    expect(await failure(o.client.devices.credentials.provision.mutate({ deviceId: 'x' }))).toMatchObject({
      trpc: 'FORBIDDEN',
    });
    expect(await failure(o.client.tokens.list.query())).toMatchObject({ trpc: 'FORBIDDEN' });
    expect((await o.client.patch.publish.mutate({ name: 'fw', version: 'op-1' })).version).toBe('op-1');
    const audit = await suite.pod.admin.client.audit.list.query({ limit: 20 });
    const actions = audit.map((a) => `${a.actor}:${a.action}:${a.ok ? 'ok' : 'refused'}`);
    expect(actions).toContain('v:patch.publish:refused');
    expect(actions).toContain('o:devices.credentials.provision:refused');
    expect(actions).toContain('o:patch.publish:ok');
    expect(JSON.stringify(audit)).not.toContain(viewer.token);
    v.close();
    o.close();
  });
});

describe('configured tokens', () => {
  it('reads hashed tokens with roles from FLEET_ADMIN_TOKENS_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-tokens-'));
    const file = join(dir, 'tokens.json');
    const token = 'ci-viewer-token-0123456789';
    await writeFile(file, JSON.stringify([{ name: 'ci', role: 'viewer', sha256: sha256(token) }]));
    const pod = await PodUnderTest.start({ FLEET_ADMIN_TOKENS_FILE: file });
    try {
      const ci = createAdminClient(pod.url, token);
      expect(await ci.client.patch.list.query()).toEqual([]);
      expect(await failure(ci.client.patch.publish.mutate({ name: 'fw', version: '1' }))).toMatchObject({
        trpc: 'FORBIDDEN',
      });
      ci.close();
    } finally {
      await pod.close();
      await rm(dir, { recursive: true });
    }
  });
});

describe('hostile connections', () => {
  it('drops a connection that floods, while others are served', async () => {
    const flooder = await rawSocket(suite.pod.url, { token: ADMIN_TOKEN });
    const gone = closed(flooder);
    for (let i = 0; i < 500; i++) {
      flooder.send(
        JSON.stringify({
          id: i + 1,
          method: 'query',
          params: { path: 'fleet.stats', input: { json: null } },
        }),
      );
    }
    expect((await gone).code).toBe(1008);
    expect((await suite.pod.admin.client.fleet.stats.query()).devices).toBeGreaterThanOrEqual(0);
  });

  it('caps subscriptions per connection', async () => {
    const ws = await rawSocket(suite.pod.url, { token: ADMIN_TOKEN });
    const errors: string[] = [];
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('TOO_MANY_REQUESTS')) errors.push(text);
    });
    for (let i = 0; i < 12; i++) {
      ws.send(
        JSON.stringify({
          id: i + 1,
          method: 'subscription',
          params: { path: 'events.follow', input: { json: {} } },
        }),
      );
    }
    await waitFor(() => errors.length === 2, { what: 'the two subscriptions over the cap to be refused' });
    ws.close();
  });

  it('drops a client that never reads instead of buffering for it', async () => {
    // What the pod logs: it says when it drops the connection.
    const logged: string[] = [];
    const slow = await PodUnderTest.start(
      { FLEET_WS_MAX_BUFFERED_BYTES: '65536', FLEET_WS_MESSAGES_PER_SECOND: '100000' },
      createLogger(
        'info',
        { service: 'camfleet-server' },
        { write: (line: string) => void logged.push(line) },
      ),
    );
    try {
      for (let i = 0; i < 200; i++) {
        await slow.pod.fleet.devices.register(`bulk-${i}`, null, {
          model: 'm',
          firmwareVersion: '1',
          labels: { a: 'x'.repeat(100) },
        });
      }
      const ws = await rawSocket(slow.url, { token: ADMIN_TOKEN });
      const gone = closed(ws);
      // Stop reading: the kernel buffers fill and the pod's send buffer grows.
      (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      for (let i = 0; i < 400; i++) {
        ws.send(
          JSON.stringify({
            id: i + 1,
            method: 'query',
            params: { path: 'devices.list', input: { json: { limit: 200 } } },
          }),
        );
      }
      // Others are still served.
      expect((await slow.admin.client.fleet.stats.query()).devices).toBe(200);
      // Read nothing until the pod has dropped the client: resuming earlier would let it drain what
      // the pod buffered for it, and it might never be dropped.
      await waitFor(
        () =>
          logged
            .map((line) => JSON.parse(line) as { msg?: string; reason?: string })
            .some((l) => l.msg === 'connection dropped' && /unsent bytes/.test(l.reason ?? '')),
        { what: 'the pod to drop the client that does not read', timeoutMs: 30_000 },
      );
      (ws as unknown as { _socket: { resume(): void } })._socket.resume();
      expect((await gone).code).toBe(1006);
    } finally {
      await slow.close();
    }
  });
});

describe('fuzzing every procedure (property)', () => {
  const createCaller = createCallerFactory(appRouter);
  const admin: Principal = { kind: 'admin', name: 'fuzz', role: 'admin' };
  const device: Principal = { kind: 'device', deviceId: 'fuzz-dev' };
  const enrollee: Principal = { kind: 'enrollee', deviceId: 'fuzz-new', enrollTokenId: null };
  type Call = (c: ReturnType<typeof createCaller>, input: never) => Promise<unknown>;
  // Every public procedure (subscriptions are called, not iterated: their input is checked on call).
  const procedures: Array<[string, Principal, Call]> = [
    ['device.register', device, (c, i) => c.device.register(i)],
    ['device.report', device, (c, i) => c.device.report(i)],
    ['device.offers', device, (c, i) => c.device.offers(i)],
    ['device.enroll', enrollee, (c) => c.device.enroll()],
    ['patch.publish', admin, (c, i) => c.patch.publish(i)],
    ['patch.list', admin, (c, i) => c.patch.list(i)],
    ['patch.get', admin, (c, i) => c.patch.get(i)],
    ['rollout.create', admin, (c, i) => c.rollout.create(i)],
    ['rollout.list', admin, (c, i) => c.rollout.list(i)],
    ['rollout.get', admin, (c, i) => c.rollout.get(i)],
    ['rollout.pause', admin, (c, i) => c.rollout.pause(i)],
    ['rollout.resume', admin, (c, i) => c.rollout.resume(i)],
    ['rollout.advance', admin, (c, i) => c.rollout.advance(i)],
    ['rollout.cancel', admin, (c, i) => c.rollout.cancel(i)],
    ['rollout.watch', admin, (c, i) => c.rollout.watch(i)],
    ['devices.list', admin, (c, i) => c.devices.list(i)],
    ['devices.get', admin, (c, i) => c.devices.get(i)],
    ['devices.credentials.provision', admin, (c, i) => c.devices.credentials.provision(i)],
    ['devices.credentials.rotate', admin, (c, i) => c.devices.credentials.rotate(i)],
    ['devices.credentials.revoke', admin, (c, i) => c.devices.credentials.revoke(i)],
    ['fleet.stats', admin, (c) => c.fleet.stats()],
    ['events.list', admin, (c, i) => c.events.list(i)],
    ['events.follow', admin, (c, i) => c.events.follow(i)],
    ['tokens.create', admin, (c, i) => c.tokens.create(i)],
    ['tokens.list', admin, (c) => c.tokens.list()],
    ['tokens.revoke', admin, (c, i) => c.tokens.revoke(i)],
    ['enrollTokens.create', admin, (c, i) => c.enrollTokens.create(i)],
    ['enrollTokens.list', admin, (c) => c.enrollTokens.list()],
    ['enrollTokens.revoke', admin, (c, i) => c.enrollTokens.revoke(i)],
    ['audit.list', admin, (c, i) => c.audit.list(i)],
    ['webhooks.create', admin, (c, i) => c.webhooks.create(i)],
    ['webhooks.list', admin, (c) => c.webhooks.list()],
    ['webhooks.get', admin, (c, i) => c.webhooks.get(i)],
    ['webhooks.delete', admin, (c, i) => c.webhooks.delete(i)],
    ['webhooks.enable', admin, (c, i) => c.webhooks.enable(i)],
    ['webhooks.deliveries', admin, (c, i) => c.webhooks.deliveries(i)],
    ['webhooks.test', admin, (c, i) => c.webhooks.test(i)],
  ];

  it('never crashes a procedure and never changes state on a rejected input', async () => {
    const expected = new Set(['BAD_REQUEST', 'NOT_FOUND', 'CONFLICT', 'UNAUTHORIZED', 'FORBIDDEN']);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...procedures),
        fc.oneof(
          fc.anything(),
          fc.record({ patchId: fc.string(), rolloutId: fc.string(), deviceId: fc.string() }),
        ),
        async ([, principal, call], input) => {
          const ctx: FleetContext = { principal, fleet: suite.pod.pod.fleet, connection: null };
          const before = await suite.pod.digest();
          try {
            await call(createCaller(ctx), input as never);
          } catch (error) {
            expect(error).toBeInstanceOf(TRPCError);
            expect(expected.has((error as TRPCError).code)).toBe(true);
            expect(await suite.pod.digest()).toBe(before);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
