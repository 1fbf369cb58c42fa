import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { appRouter, type FleetContext } from '@camfleet/contracts';
import { connectRedis, describeTarget } from '@camfleet/redis';
import { TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { ArtifactHttp } from './artifacts/http.js';
import { openArtifactStorage } from './artifacts/index.js';
import { Authenticator, readTokensFile } from './auth.js';
import type { ServerConfig } from './config.js';
import { CLOSE, Connections } from './connections.js';
import { dashboardHandler } from './dashboard.js';
import { sha256 } from './fleet/access.js';
import { Background } from './fleet/background.js';
import { HintBus } from './fleet/hints.js';
import { RedisFleetService } from './fleet/redis-fleet.js';
import { LegacyGateway } from './legacy/gateway.js';
import { PatchListImporter } from './legacy/patch-list.js';
import { Metrics } from './metrics.js';
import { readLiveDeliveries } from './observability/live-deliveries.js';
import { KeySpace } from './redis/keys.js';
import { ReplicatedWrites } from './redis/replicated-writes.js';
import { defineScripts, observeScripts, preloadScripts } from './redis/scripts.js';

/** Largest WebSocket frame a client may send: every device input is small. */
const MAX_FRAME_BYTES = 64 * 1024;
/**
 * Largest tRPC HTTP body: the biggest admin input is a rollout naming 10,000 devices (ids up to
 * 128 characters). Artifact uploads stream to storage under their own limit (FLEET_ARTIFACT_MAX_BYTES).
 */
const MAX_HTTP_BODY_BYTES = 2 * 1024 * 1024;

export interface RunningServer {
  url: string;
  instance: string;
  fleet: RedisFleetService;
  /** Graceful: not ready, clients told to reconnect elsewhere, connections drained, Redis closed. */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const instance = `${config.nodeId}.${randomBytes(3).toString('hex')}`;
  const keys = new KeySpace(config.keyPrefix);
  // One registry per pod (never prom-client's global one): pods in one process keep apart.
  const metrics = new Metrics({ defaultMetrics: true });
  // Commands wait out a Redis restart or failover in the offline queue instead of failing.
  const connect = (name: string, subscriber = false) =>
    connectRedis(config.redis, { name: `camfleet:${instance}${name}`, subscriber, waitOutOutages: true });
  const redis = connect('');
  const subscriber = connect(':hints', true);
  // Artifact chunks get a connection of their own: bulk transfers never queue ahead of state changes.
  const artifactRedis = config.artifactStore === 'redis' ? connect(':artifacts') : null;
  log.info({ redis: describeTarget(config.redis) }, 'redis');
  // WAIT blocks its connection: writes that wait for replicas get one of their own.
  const durableRedis = config.redisWaitReplicas > 0 ? connect(':durable') : null;
  const redisClients = [
    redis,
    subscriber,
    ...(artifactRedis ? [artifactRedis] : []),
    ...(durableRedis ? [durableRedis] : []),
  ];
  defineScripts(redis);
  const replicated = durableRedis
    ? new ReplicatedWrites(
        durableRedis,
        { replicas: config.redisWaitReplicas, timeoutMs: config.redisWaitTimeoutMs },
        (scripts, replicas) => {
          for (const script of scripts) metrics.replicationShort.inc({ script });
          log.warn(
            { writes: scripts.length, replicas, wanted: config.redisWaitReplicas },
            'writes not confirmed by enough replicas',
          );
        },
      )
    : null;
  if (durableRedis) defineScripts(durableRedis);
  observeScripts(redis, metrics.observeScript);
  for (const client of redisClients) {
    client.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  }
  await preloadScripts(redis);

  const fleet = new RedisFleetService({
    redis,
    keys,
    instance,
    log,
    hintGraceMs: config.hintGraceMs,
    metrics,
    replicated: replicated ?? undefined,
  });
  const storage = await openArtifactStorage(config, artifactRedis);
  fleet.attachStorage(storage);
  const connections = new Connections({
    messagesPerSecond: config.wsMessagesPerSecond,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    log,
  });
  const hints = new HintBus(subscriber, redis, keys, instance, metrics, {
    devices: (ids) => void fleet.devices.evaluateMany(ids),
    broadcast: () => {
      fleet.devices.evaluateAll().catch((err: unknown) => log.warn({ err }, 'broadcast evaluation failed'));
    },
    kick: (deviceId, code, reason) => connections.closeDevice(deviceId, code, reason),
    reassert: () => {
      fleet.devices.reassertPresence().catch((err: unknown) => log.warn({ err }, 'presence not restored'));
    },
    drop: (connectionId) => connections.close(connectionId, CLOSE.replaced, 'replaced by a newer connection'),
    capacity: (rolloutId) => {
      fleet.slots.retry(rolloutId).catch((err: unknown) => log.warn({ err, rolloutId }, 'slot retry failed'));
    },
  });
  fleet.attachHints(hints);
  fleet.access.onKick((deviceId, code, reason) => hints.kick(deviceId, code, reason));
  await hints.start();
  const patchList = new PatchListImporter(fleet.deps, fleet, config.legacy.ackTimeoutMs);
  const background = new Background({
    redis,
    keys,
    fleet,
    hints,
    instance,
    log,
    metrics,
    sweepIntervalMs: config.sweepIntervalMs,
    leaseMs: config.leaseMs,
    hintGraceMs: config.hintGraceMs,
    ...(config.legacy.patchList
      ? { patchList: { pollMs: config.legacy.patchListPollMs, pass: () => patchList.pass() } }
      : {}),
  });
  await background.heartbeat();
  background.start();
  metrics.bind({
    sessions: () => fleet.devices.sessions.size,
    connections: () => connections.countByKind(),
    liveDeliveries: () => readLiveDeliveries(redis, keys, fleet.rollouts),
  });

  const adminTokens = [
    ...(config.adminToken
      ? [{ name: 'admin', role: 'admin' as const, sha256: sha256(config.adminToken) }]
      : []),
    ...(config.adminTokensFile ? readTokensFile(config.adminTokensFile) : []),
  ];
  const auth = new Authenticator(redis, keys, fleet.access, adminTokens, config.enrollToken);
  const artifacts = new ArtifactHttp({ auth, fleet, storage, maxBytes: config.artifactMaxBytes, log });
  let ready = true;
  let draining = false;

  const trpcHttp = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    maxBodySize: MAX_HTTP_BODY_BYTES,
    createContext: async ({ req }): Promise<FleetContext> => ({
      principal: await auth.fromAuthorizationHeader(req.headers.authorization),
      fleet,
      connection: null,
    }),
    onError: ({ error, path, req }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        log.error({ err: error, path, url: (req.url ?? '').split('?')[0] }, 'request failed');
      }
    },
  });

  const dashboard = dashboardHandler(config.dashboardDir);
  if (!dashboard)
    log.info({ dir: config.dashboardDir }, 'no dashboard build: / answers 404 (pnpm dashboard:build)');
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') return sendJson(res, 200, { ok: true, instance });
    if (path === '/readyz') {
      const ok = ready && redisClients.every((client) => client.status === 'ready');
      return sendJson(res, ok ? 200 : 503, { ready: ok, redis: redis.status });
    }
    if (path === '/metrics') return void sendMetrics(res, metrics, log);
    // Draining: requests in progress finish, new ones go to another pod.
    if (draining) return sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
    if (path.startsWith('/trpc/')) return void trpcHttp(req, res);
    if (ArtifactHttp.matches(path)) return void artifacts.handle(req, res);
    if (dashboard && (req.method === 'GET' || req.method === 'HEAD')) return dashboard(req, res);
    sendJson(res, 404, { error: 'not found' });
  };
  const http: Server = createServer(onRequest);
  // `Expect: 100-continue` (curl sends it for large uploads): an upload is refused before its body is sent.
  http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (ArtifactHttp.matches(path)) return void artifacts.handle(req, res, true);
    res.writeContinue();
    onRequest(req, res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const legacy = new LegacyGateway({ config: config.legacy, fleet, auth, connections, hints, instance, log });
  // One port: typed clients on /trpc, the original system's cameras on /ws/<id>.
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/trpc' && !draining)
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    else if (LegacyGateway.matches(path) && !draining) void legacy.upgrade(req, socket, head);
    else
      socket.end(
        `HTTP/1.1 ${draining ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`,
      );
  });
  wss.on('connection', (ws) => {
    if (draining) return ws.close(1012, 'shutting down');
    connections.guard(ws);
  });
  applyWSSHandler({
    wss,
    router: appRouter,
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 10_000 },
    createContext: async ({ res, info }): Promise<FleetContext> => {
      const connectionId = randomUUID();
      const { principal, previous } = await auth
        .fromConnectionParams(info.connectionParams)
        .catch((error: unknown) => {
          connections.refused(connectionId, info.connectionParams, error);
          throw error;
        });
      const connection = { connectionId, subscriptions: { open: 0, max: config.wsMaxSubscriptions } };
      const deviceId = principal.kind === 'device' ? principal.deviceId : null;
      if (deviceId && res.readyState !== res.OPEN) {
        // The client gave up on this socket while its credentials were checked (Redis slow or
        // frozen) and may be connected again elsewhere by now: a closed connection must not replace
        // the device's live one (4002 tells it to stop for good).
        throw new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'connection closed' });
      }
      connections.add(connection.connectionId, res, principal);
      if (deviceId) {
        res.once('close', () => {
          fleet.devices
            .deviceDisconnected(deviceId, connection.connectionId)
            .catch((err: unknown) => log.warn({ err, deviceId }, 'disconnect not recorded'));
        });
        // One connection per device: the newest wins, an older one (here or on another pod) is closed
        // — once this one registers. A socket that only authenticates is not yet the device: a client
        // library still reconnecting for a connection its app gave up on (seen after pod drains) must
        // not close the device's live connection with 4002, which tells it to stop for good.
        let replaced = false;
        const replaceOthers = async () => {
          if (replaced) return;
          replaced = true;
          connections.closeDevice(deviceId, CLOSE.replaced, 'replaced by a newer connection', connectionId);
          if (previous && previous.node !== instance) await hints.drop(previous.node, previous.connectionId);
        };
        const ownFleet = Object.create(fleet) as RedisFleetService;
        ownFleet.registerDevice = async (...args: Parameters<RedisFleetService['registerDevice']>) => {
          await replaceOthers();
          return fleet.registerDevice(...args);
        };
        return { principal, fleet: ownFleet, connection };
      }
      return { principal, fleet, connection };
    },
    onError: ({ error, path, ctx }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        log.error({ err: error, path, connectionId: ctx?.connection?.connectionId }, 'ws request failed');
      }
    },
  });

  // A large accept queue: thousands of devices of a dead pod reconnect within a second, and SYNs the
  // kernel drops are retried only after 1 s, 3 s, 7 s.
  await new Promise<void>((resolve) =>
    http.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, resolve),
  );
  const { port } = http.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      ready = false;
      draining = true;
      // Tell connected clients to reconnect elsewhere, spread over a short window: no thundering herd.
      const clients = [...wss.clients];
      const spreadMs = Math.min(config.shutdownGraceMs / 2, 2_000);
      clients.forEach((ws, i) => {
        setTimeout(() => ws.send(RECONNECT), (i / Math.max(clients.length, 1)) * spreadMs).unref();
      });
      legacy.close();
      await waitUntil(() => wss.clients.size === 0, config.shutdownGraceMs);
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await httpClosed;
      // Leave Redis tidily if it answers in time; a pod must exit even while Redis is down.
      const tidy = (async () => {
        await background.stop();
        await redis.zrem(keys.nodes, instance);
        await Promise.all(redisClients.map((client) => client.quit()));
      })().catch(() => undefined);
      await Promise.race([tidy, new Promise((resolve) => setTimeout(resolve, config.shutdownGraceMs))]);
      for (const client of redisClients) client.disconnect();
    })();
    return closing;
  };

  return { url, instance, fleet, close };
}

/** Prometheus text exposition of this pod's registry. */
async function sendMetrics(res: ServerResponse, metrics: Metrics, log: Logger): Promise<void> {
  try {
    const body = await metrics.render();
    res.writeHead(200, { 'content-type': metrics.contentType });
    res.end(body);
  } catch (error) {
    log.error({ err: error, url: '/metrics' }, 'metrics not rendered');
    sendJson(res, 500, { error: 'metrics unavailable' });
  }
}

/** tRPC's reconnect notification: the client opens a new connection (to another pod). */
const RECONNECT = JSON.stringify({ id: null, method: 'reconnect' });

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
