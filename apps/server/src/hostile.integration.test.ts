import { createAdminClient, createDeviceClient } from '@camfleet/client';
import { mastersOf } from '@camfleet/redis';
import { parseInfo, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestPod } from './testing/in-process.js';
import { ADMIN_TOKEN, PodUnderTest } from './testing/wire.js';

/**
 * What one hostile client could do to a pod before these limits, each as a test that failed then:
 * events followed per subscription, sockets that never authenticate, unthrottled logins.
 */

interface RawOutcome {
  /** The HTTP status of a refused upgrade, or 101. */
  status: number;
  retryAfter: string | null;
  /** The first frame the server sent (an `id: null` error for a refused context), out of its superjson envelope. */
  first: {
    error?: {
      message?: string;
      data?: { code?: string; limit?: { name: string; retryAfterSeconds: number | null } };
    };
  } | null;
  closeCode: number | null;
}

/**
 * A raw tRPC WebSocket the way its client opens one (`?connectionParams=1`), from `localAddress`,
 * sending `params` unless null. Resolves once the server answered a first frame, closed, or refused
 * the upgrade; `socket` stays open when none of those happened by `settled`.
 */
function rawConnect(
  url: string,
  params: Record<string, string> | null,
  options: { localAddress?: string; waitFor?: 'frame' | 'close' | 'open' } = {},
): Promise<RawOutcome & { socket: WebSocket }> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/trpc?connectionParams=1`, {
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const outcome: RawOutcome = { status: 101, retryAfter: null, first: null, closeCode: null };
  return new Promise((resolve, reject) => {
    const done = () => resolve({ ...outcome, socket });
    socket.once('unexpected-response', (_req, res) => {
      outcome.status = res.statusCode ?? 0;
      outcome.retryAfter = (res.headers['retry-after'] as string | undefined) ?? null;
      socket.terminate();
      done();
    });
    socket.once('open', () => {
      if (params) socket.send(JSON.stringify({ method: 'connectionParams', data: params }));
      if (options.waitFor === 'open') done();
    });
    socket.on('message', (data) => {
      const text = String(data);
      if (text === 'PING' || text === 'PONG') return; // tRPC's keepalive
      if (outcome.first === null) {
        const frame = JSON.parse(text) as { error?: { json?: unknown } };
        outcome.first = frame.error ? { error: (frame.error.json ?? frame.error) as never } : {};
      }
      if ((options.waitFor ?? 'frame') === 'frame') done();
    });
    socket.once('close', (code) => {
      outcome.closeCode = code;
      done();
    });
    socket.once('error', (error) => {
      if (outcome.status === 101) reject(error);
    });
  });
}

/** Calls of the stream-reading commands every master has served so far. */
async function streamReads(pod: PodUnderTest): Promise<number> {
  let calls = 0;
  for (const master of mastersOf(pod.redis)) {
    const stats = parseInfo(String(await master.info('commandstats')));
    for (const command of ['xread', 'xrange', 'xrevrange']) {
      calls += Number(/calls=(\d+)/.exec(stats.get(`cmdstat_${command}`) ?? '')?.[1] ?? 0);
    }
  }
  return calls;
}

describe('following events: one reader per pod, whatever the followers', () => {
  let pod: PodUnderTest;
  const clients: Array<{ close: () => void }> = [];
  beforeAll(async () => {
    pod = await PodUnderTest.start({
      // This test is about the fan-out, not the limits: let one token follow 200 times.
      FLEET_MAX_CONNECTIONS_PER_TOKEN: '100',
      FLEET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '1000',
    });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await pod?.close();
  });

  it('200 followers on one token read the streams no more than a few times per new event', async () => {
    const followers = 200;
    const seen: number[] = Array.from({ length: followers }, () => 0);
    const patch = await pod.admin.client.patch.publish.mutate({ name: 'fan-out', version: '1' });
    for (let c = 0; c < 20; c++) {
      const admin = createAdminClient(pod.url, ADMIN_TOKEN);
      clients.push(admin);
      for (let s = 0; s < 10; s++) {
        const index = c * 10 + s;
        admin.client.events.follow.subscribe(
          {},
          {
            onData: () => {
              seen[index] = (seen[index] ?? 0) + 1;
            },
            onError: (error) => console.error(error),
          },
        );
      }
    }
    await waitFor(() => pod.pod.fleet.events.feed.liveFollowers === followers, {
      what: 'every follower to be following',
      timeoutMs: 30_000,
    });
    const before = await streamReads(pod);
    const rollouts = 5;
    for (let i = 0; i < rollouts; i++)
      await pod.admin.client.rollout.create.mutate({ patchId: patch.id, target: { kind: 'all' } });
    await waitFor(() => seen.every((count) => count >= rollouts), {
      what: 'every follower to see every rollout created',
      timeoutMs: 30_000,
    });
    const reads = (await streamReads(pod)) - before;
    // A poll per follower (the old way) is 65 streams × 200 followers per round: 13,000 at least.
    // One feed reads once per wake (one XREAD), or 65 XRANGEs per 250 ms where it must poll.
    console.log(`[hostile] ${followers} followers, ${rollouts} rollouts: ${reads} stream reads`);
    expect(reads).toBeLessThan(65 * followers);
    if (!pod.redisServer.mode || pod.redisServer.mode === 'single') expect(reads).toBeLessThan(100);
  });
});

describe('sockets that do not authenticate', () => {
  let pod: PodUnderTest;
  beforeAll(async () => {
    pod = await PodUnderTest.start({
      FLEET_AUTH_DEADLINE_MS: '300',
      FLEET_MAX_UNAUTHENTICATED_PER_ADDRESS: '3',
    });
  });
  afterAll(async () => {
    await pod?.close();
  });

  it('closes a socket that never sends its credentials, with 4003', async () => {
    const silent = await rawConnect(pod.url, null, { waitFor: 'close' });
    expect(silent.status).toBe(101);
    expect(silent.closeCode).toBe(4003);
  });

  it('refuses the upgrade past the waiting sockets of one address (429, Retry-After), not another address', async () => {
    const waiting = await Promise.all(
      [1, 2, 3].map(() => rawConnect(pod.url, null, { localAddress: '127.0.0.1', waitFor: 'open' })),
    );
    expect(waiting.map((w) => w.status)).toEqual([101, 101, 101]);
    const fourth = await rawConnect(pod.url, null, { localAddress: '127.0.0.1', waitFor: 'open' });
    expect(fourth.status).toBe(429);
    expect(Number(fourth.retryAfter)).toBeGreaterThan(0);
    const elsewhere = await rawConnect(pod.url, null, { localAddress: '127.0.0.2', waitFor: 'open' });
    expect(elsewhere.status).toBe(101);
    for (const socket of [...waiting, elsewhere]) socket.socket.terminate();
    // Once they are gone (or their deadline closed them), the address may connect again.
    await waitFor(
      async () => {
        const again = await rawConnect(pod.url, null, { waitFor: 'open' });
        again.socket.terminate();
        return again.status === 101;
      },
      { what: 'the address to be let in again' },
    );
  });
});

describe('limits per admin token', () => {
  let pod: PodUnderTest;
  beforeAll(async () => {
    pod = await PodUnderTest.start({
      FLEET_MAX_CONNECTIONS_PER_TOKEN: '3',
      FLEET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '3',
    });
  });
  afterAll(async () => {
    await pod?.close();
  });

  it('refuses a token’s connection past its limit with TOO_MANY_REQUESTS naming the limit', async () => {
    const held = await Promise.all(
      [1, 2, 3].map(() => rawConnect(pod.url, { token: ADMIN_TOKEN }, { waitFor: 'open' })),
    );
    // Their contexts are made once their params arrive: wait until all three count.
    await waitFor(
      async () => {
        const probe = await rawConnect(pod.url, { token: ADMIN_TOKEN }, { waitFor: 'frame' });
        probe.socket.terminate();
        return probe.first?.error?.data?.limit?.name === 'connections_per_token';
      },
      { what: 'a fourth connection to be refused' },
    );
    const refused = await rawConnect(pod.url, { token: ADMIN_TOKEN }, { waitFor: 'frame' });
    expect(refused.first?.error?.data?.code).toBe('TOO_MANY_REQUESTS');
    expect(refused.first?.error?.data?.limit?.name).toBe('connections_per_token');
    for (const { socket } of held) socket.terminate();
    refused.socket.terminate();
    const metrics = await (await fetch(`${pod.url}/metrics`)).text();
    expect(metrics).toMatch(/camfleet_limit_refusals_total\{limit="connections_per_token"\} [1-9]/);
  });

  it('counts a token’s subscriptions across its connections', async () => {
    const a = createAdminClient(pod.url, ADMIN_TOKEN);
    const b = createAdminClient(pod.url, ADMIN_TOKEN);
    try {
      const errors: string[] = [];
      const follow = (client: typeof a) =>
        client.client.events.follow.subscribe(
          {},
          {
            onError: (error) =>
              errors.push(String((error.data as { limit?: { name: string } })?.limit?.name)),
          },
        );
      follow(a);
      follow(a);
      follow(b);
      await waitFor(() => pod.pod.fleet.events.feed.liveFollowers === 3, { what: 'three followers' });
      follow(b);
      await waitFor(() => errors.length === 1, { what: 'the fourth subscription to be refused' });
      expect(errors).toEqual(['subscriptions_per_principal']);
      expect(pod.pod.fleet.events.feed.liveFollowers).toBe(3);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('failed logins are throttled across pods, per address', () => {
  let pod: PodUnderTest;
  let second: Awaited<ReturnType<typeof startTestPod>>;
  const limits = { FLEET_AUTH_FAILURES_PER_IDENTITY: '3', FLEET_AUTH_FAILURES_PER_ADDRESS: '6' };
  beforeAll(async () => {
    pod = await PodUnderTest.start(limits);
    second = await startTestPod(pod.redisServer.url, limits);
  });
  afterAll(async () => {
    await second?.close();
    await pod?.close();
  });

  it('throttles one address guessing a device’s secret, on every pod, while the device connects from its own', async () => {
    const creds = await pod.enroll('victim');
    if (!('secret' in creds)) throw new Error('enrolled without a secret');
    for (let i = 0; i < 3; i++) {
      const guess = await rawConnect(
        pod.url,
        { deviceId: 'victim', secret: `wrong-${i}` },
        { localAddress: '127.0.0.3' },
      );
      expect(guess.first?.error?.data?.code).toBe('UNAUTHORIZED');
    }
    // The fourth try from that address is refused before the secret is looked at, even the right one,
    // and on the other pod too (the counters are in Redis).
    for (const url of [pod.url, second.url]) {
      const throttled = await rawConnect(
        url,
        { deviceId: 'victim', secret: creds.secret },
        { localAddress: '127.0.0.3' },
      );
      expect(throttled.first?.error?.data?.code).toBe('TOO_MANY_REQUESTS');
      expect(throttled.first?.error?.data?.limit?.name).toBe('auth_failures_per_identity');
      expect(throttled.first?.error?.data?.limit?.retryAfterSeconds).toBeGreaterThan(0);
      // The message names its limit once.
      expect(throttled.first?.error?.message?.match(/\(limit /g)).toHaveLength(1);
    }
    // The real device, from another address, is not locked out.
    const device = createDeviceClient({
      baseUrl: second.url,
      deviceId: 'victim',
      credentials: creds,
      localAddress: '127.0.0.4',
    });
    try {
      expect(
        await device.client.device.register.mutate({ model: 'cam', firmwareVersion: '1.0.0' }),
      ).toMatchObject({
        id: 'victim',
      });
    } finally {
      device.wsClient.close();
    }
    // Failures are audited with the address they came from.
    const audit = await pod.admin.client.audit.list.query({ limit: 50 });
    const failures = audit.filter((entry) => entry.action === 'auth.device_secret' && !entry.ok);
    expect(failures).toHaveLength(3);
    expect(failures[0]?.input).toContain('127.0.0.3');
  });

  it('answers a throttled admin token over HTTP with 429 and Retry-After', async () => {
    const call = () =>
      fetch(`${pod.url}/trpc/fleet.stats`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call()).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const throttled = await call();
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
