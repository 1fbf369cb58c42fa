import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appRouter, type FleetContext, LimitRefused } from '@camfleet/contracts';
import { connectRedis, describeTarget, type RedisClient } from '@camfleet/redis';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { Admission, addressOf } from './admission.js';
import { ArtifactHttp } from './artifacts/http.js';
import { openArtifactStorage, uploadLimitOf } from './artifacts/index.js';
import { Authenticator, readTokensFile } from './auth.js';
import { AuthThrottle } from './auth-throttle.js';
import type { ServerConfig } from './config.js';
import { CLOSE, Connections, PodSocket, upgradeRequest } from './connections.js';
import { dashboardHandler } from './dashboard.js';
import { DdiController } from './ddi/controller.js';
import { ddiRoutes } from './ddi/http.js';
import { type DeviceTransportError, deviceTransport } from './device-transport.js';
import { Background } from './fleet/background.js';
import { RedisFleet } from './fleet/fleet.js';
import { HintBus } from './fleet/hints.js';
import { LayoutFollower } from './fleet/layout.js';
import { sha256 } from './fleet/secrets.js';
import { pathOf, refuseUpgrade } from './http/respond.js';
import { restRoutes } from './http/rest.js';
import { httpRoutes } from './http/routes.js';
import { LegacyGateway } from './legacy/gateway.js';
import { PatchListImporter } from './legacy/patch-list.js';
import { Metrics } from './metrics.js';
import { readLiveDeliveries } from './observability/live-deliveries.js';
import { KeySpace } from './redis/keys.js';
import { ReplicatedWrites } from './redis/replicated-writes.js';
import { defineScripts, preloadScripts, Scripts } from './redis/script.js';
import { ALL_SCRIPTS, checkScriptList } from './redis/scripts/index.js';
import { shutDown } from './shutdown.js';
import { WebhookLoops } from './webhooks/loops.js';
import { wsContext } from './ws-context.js';

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
  fleet: RedisFleet;
  /** Graceful: not ready, clients told to reconnect elsewhere, connections drained, Redis closed. */
  close(): Promise<void>;
}

/** How long writes stay unconfirmed by replicas before the durable connection finds its master again. */
const STUCK_SHORT_MS = 5_000;

/** The pod's Redis connections: state changes, hints, bulk artifact chunks, and replicated writes. */
function openRedis(config: ServerConfig, instance: string, metrics: Metrics, log: Logger) {
  // Commands wait out a Redis restart or failover in the offline queue instead of failing.
  const connect = (name: string, subscriber = false) =>
    connectRedis(config.redis, { name: `camfleet:${instance}${name}`, subscriber, waitOutOutages: true });
  const redis = connect('');
  const subscriber = connect(':hints', true);
  // Artifact chunks get a connection of their own: bulk transfers never queue ahead of state changes.
  const artifactRedis = config.artifactStore === 'redis' ? connect(':artifacts') : null;
  // WAIT blocks its connection: writes that wait for replicas get one of their own.
  const durableRedis = config.redisWaitReplicas > 0 ? connect(':durable') : null;
  const all = [redis, subscriber, artifactRedis, durableRedis].filter((c): c is RedisClient => c !== null);
  for (const client of all)
    client.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  checkScriptList();
  defineScripts(redis, ALL_SCRIPTS);
  if (durableRedis) defineScripts(durableRedis, ALL_SCRIPTS);
  const replicated = durableRedis
    ? new ReplicatedWrites(
        durableRedis,
        { replicas: config.redisWaitReplicas, timeoutMs: config.redisWaitTimeoutMs },
        (scripts, replicas, waitError) => {
          for (const script of scripts) metrics.replicationShort.inc({ script });
          log.warn(
            { writes: scripts.length, replicas, wanted: config.redisWaitReplicas, waitError },
            'writes not confirmed by enough replicas',
          );
        },
        // Under Sentinel, a connection whose writes stay unconfirmed may be on a master that was
        // failed over and not demoted yet (it ran on through a stall): ask the Sentinels again.
        config.redis.mode === 'sentinel'
          ? {
              afterMs: STUCK_SHORT_MS,
              onStuck: () => {
                log.warn(
                  { afterMs: STUCK_SHORT_MS },
                  'writes unconfirmed for a while: reconnecting to the master the Sentinels name',
                );
                durableRedis.disconnect(true);
              },
            }
          : null,
      )
    : null;
  return { redis, subscriber, artifactRedis, all, replicated };
}

/** Starts a pod: Redis, the fleet and its loops, then HTTP and WebSockets on one port. */
export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const instance = `${config.nodeId}.${randomBytes(3).toString('hex')}`;
  const keys = new KeySpace(config.keyPrefix);
  // One registry per pod (never prom-client's global one): pods in one process keep apart.
  const metrics = new Metrics({ defaultMetrics: true });
  log.info({ redis: describeTarget(config.redis) }, 'redis');
  const redis = openRedis(config, instance, metrics, log);
  await preloadScripts(redis.redis, ALL_SCRIPTS);
  const scripts = new Scripts(redis.redis, keys, redis.replicated, metrics.observeScript);
  const storage = await openArtifactStorage(config, redis.artifactRedis);
  const connections = new Connections({
    messagesPerSecond: config.wsMessagesPerSecond,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    log,
  });

  // The hint handlers run once hints arrive, after the fleet below exists.
  const hints = new HintBus(redis.subscriber, redis.redis, keys, instance, metrics, {
    devices: (ids) => void fleet.claims.evaluateMany(ids),
    offers: (offers) => fleet.claims.relayed(offers),
    broadcast: () => {
      fleet.claims.evaluateAll().catch((err: unknown) => log.warn({ err }, 'broadcast evaluation failed'));
    },
    kick: (deviceId, code, reason) => connections.closeDevice(deviceId, code, reason),
    reassert: () => {
      fleet.reconcile.reassertPresence().catch((err: unknown) => log.warn({ err }, 'presence not restored'));
    },
    drop: (connectionId) => connections.close(connectionId, CLOSE.replaced, 'replaced by a newer connection'),
    capacity: (rolloutId) => {
      fleet.slots.retry(rolloutId).catch((err: unknown) => log.warn({ err, rolloutId }, 'slot retry failed'));
    },
  });
  const fleet = new RedisFleet(
    {
      redis: redis.redis,
      keys,
      scripts,
      instance,
      log,
      hintGraceMs: config.hintGraceMs,
      // A bucket's attach is held like the pod itself: a dead pod's work moves on after one lease.
      attachLeaseMs: config.leaseMs,
      deliveryRetentionMs: config.deliveryRetentionMs,
      metrics,
      webhooks: config.webhooks,
      artifactPresign: config.artifactPresign,
      delta: config.delta,
      events: {
        followerQueue: config.eventsFollowerQueue,
        // The event feed's blocking read holds a connection of its own while anyone follows.
        ...(config.redis.mode === 'cluster'
          ? {}
          : {
              connectBlocking: () =>
                connectRedis(config.redis, { name: `camfleet:${instance}:events`, waitOutOutages: true }),
            }),
      },
    },
    hints,
    storage,
  );
  await hints.start();
  const patchList = new PatchListImporter(fleet, config.legacy.ackTimeoutMs);
  const layout = new LayoutFollower({ redis: redis.redis, keys, instance });
  await layout.pass();
  const background = new Background({
    fleet,
    layout,
    hints,
    sweepIntervalMs: config.sweepIntervalMs,
    leaseMs: config.leaseMs,
    ...(config.legacy.patchList
      ? { patchList: { pollMs: config.legacy.patchListPollMs, pass: () => patchList.pass() } }
      : {}),
  });
  await background.heartbeat();
  background.start();
  // Webhook sends run off every request path: their own loops, bounded per pod.
  const webhooks = new WebhookLoops(fleet.deps, fleet.webhooks, config.leaseMs);
  webhooks.start();
  metrics.bind({
    sessions: () => fleet.sessions.size,
    connections: () => connections.countByKind(),
    liveDeliveries: () => readLiveDeliveries(redis.redis, keys, fleet.rollouts),
  });

  const adminTokens = [
    ...(config.adminToken
      ? [{ name: 'admin', role: 'admin' as const, sha256: sha256(config.adminToken) }]
      : []),
    ...(config.adminTokensFile ? readTokensFile(config.adminTokensFile) : []),
  ];
  const throttle = new AuthThrottle({ scripts, keys, audit: fleet.audit, metrics, log }, config.authFailures);
  const auth = new Authenticator(redis.redis, keys, fleet, adminTokens, config.enrollToken, throttle);
  const admission = new Admission(config.admission, (limit) => metrics.limitRefusals.inc({ limit }));
  let draining = false;

  /** An HTTP request's context, for tRPC over HTTP and the REST API alike: its Bearer token's principal. */
  const httpContext = async (req: IncomingMessage): Promise<FleetContext> => ({
    principal: await auth.fromRequest(req, addressOf(req)),
    fleet,
    connection: null,
  });
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    maxBodySize: MAX_HTTP_BODY_BYTES,
    createContext: ({ req, res }) =>
      httpContext(req).catch((error: unknown) => {
        if (error instanceof Error && error.cause instanceof LimitRefused)
          res.setHeader('retry-after', String(error.cause.limit.retryAfterSeconds ?? 1));
        throw error;
      }),
    onError: ({ error, path, req }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR')
        log.error({ err: error, path, url: pathOf(req) }, 'request failed');
    },
  });
  const dashboard = dashboardHandler(config.dashboardDir);
  if (!dashboard)
    log.info({ dir: config.dashboardDir }, 'no dashboard build: / answers 404 (pnpm dashboard:build)');

  // Compression stays off (ws's default for servers): a deflate context per socket costs far more
  // than the small frames it would save.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    WebSocket: PodSocket,
  });
  // tRPC's own keepalive would arm two timers per connection and re-arm them on every frame; one
  // sweep over the pod's sockets does the same (device protocol section 7).
  const stopKeepAlive = connections.keepAlive(wss.clients, config.wsKeepAlive);
  const wsError = ({ error, path, ctx }: Pick<DeviceTransportError, 'error' | 'path' | 'ctx'>) => {
    // Subscription places are refused inside the router; the pod's own refusals count themselves.
    const limit = error.cause instanceof LimitRefused ? error.cause.limit.name : null;
    if (limit === 'subscriptions_per_connection' || limit === 'subscriptions_per_principal')
      metrics.limitRefusals.inc({ limit });
    if (error.code === 'INTERNAL_SERVER_ERROR')
      log.error({ err: error, path, connectionId: ctx?.connection?.connectionId }, 'ws request failed');
  };
  const createContext = wsContext({
    auth,
    admission,
    connections,
    fleet,
    hints,
    instance,
    maxSubscriptions: config.wsMaxSubscriptions,
    log,
  });
  const serveTrpc = getWSConnectionHandler({
    // Named for the options' type only: this handler serves the sockets passed to it below.
    wss,
    router: appRouter,
    createContext,
    onError: wsError,
  });
  // Device connections (a device's connectionParams) go through the lean device transport, the
  // others (admins) through tRPC's adapter; FLEET_DEVICE_TRANSPORT=trpc sends devices there too.
  const serve =
    config.deviceTransport === 'lean'
      ? deviceTransport({ router: appRouter, createContext, onError: wsError, fallback: serveTrpc })
      : serveTrpc;
  wss.on('connection', (ws, req: IncomingMessage) => {
    if (draining) return ws.close(1012, 'shutting down');
    connections.guard(ws);
    admission.awaitCredentials(ws, addressOf(req));
    // The connection keeps only what it reads of the upgrade request, not the request itself.
    serve(ws, upgradeRequest(req));
  });
  const legacy = new LegacyGateway({ config: config.legacy, fleet, auth, connections, hints, instance, log });

  const artifacts = new ArtifactHttp({
    auth,
    fleet,
    storage,
    ...uploadLimitOf(config.artifactStore, config.artifactMaxBytes),
    log,
    served: (bytes) => metrics.artifactBytesServed.inc(bytes),
  });
  const ddi = config.ddi
    ? ddiRoutes({
        controller: new DdiController({ fleet, storage, instance }, config.ddi),
        auth,
        artifacts,
        log,
      })
    : [];
  const routes = httpRoutes({
    instance,
    readiness: () => ({
      ready: !draining && redis.all.every((client) => client.status === 'ready'),
      redis: redis.redis.status,
    }),
    draining: () => draining,
    metrics,
    log,
    trpc: (req, res) => void trpc(req, res),
    artifacts,
    ddi,
    rest: restRoutes({
      context: httpContext,
      maxBodyBytes: MAX_HTTP_BODY_BYTES,
      draining: () => draining,
      log,
    }),
    dashboard,
    upgrades: {
      trpc: (req, socket, head) => {
        const refusal = admission.refuseUpgrade(addressOf(req));
        if (refusal) return refuseUpgrade(socket, 429, refusal);
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      },
      legacy: (req, socket, head, params) => void legacy.upgrade(req, socket, head, params.deviceId ?? ''),
    },
  });
  const http = createServer((req, res) => routes.request(req, res));
  // `Expect: 100-continue` (curl sends it for large uploads): an upload is refused before its body is sent.
  http.on('checkContinue', (req: IncomingMessage, res) => routes.requestExpectingContinue(req, res));
  http.on('upgrade', (req, socket, head) => routes.upgrade(req, socket, head));

  // A large accept queue: thousands of devices of a dead pod reconnect within a second, and SYNs the
  // kernel drops are retried only after 1 s, 3 s, 7 s.
  await new Promise<void>((resolve) =>
    http.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, resolve),
  );
  const { port } = http.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | null = null;
  const close = () => {
    draining = true;
    stopKeepAlive();
    closing ??= shutDown({
      http,
      wss,
      closeOtherSockets: () => legacy.close(),
      stopBackground: () => Promise.all([background.stop(), webhooks.close()]).then(() => undefined),
      leave: () =>
        redis.redis
          .multi()
          .zrem(keys.nodes, instance)
          .hdel(keys.nodeDevices, instance)
          .hdel(keys.nodeLayout, instance)
          .exec(),
      redisClients: redis.all,
      graceMs: config.shutdownGraceMs,
    });
    return closing;
  };

  return { url: `http://${host}:${port}`, instance, fleet, close };
}
