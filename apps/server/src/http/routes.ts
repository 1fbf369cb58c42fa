import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Router, { type HTTPMethod } from 'find-my-way';
import type { Logger } from 'pino';
import type { ArtifactHttp } from '../artifacts/http.js';
import type { Metrics } from '../metrics.js';
import { endRefusedUpgrade, pathOf, sendJson } from './respond.js';
import type { RestRoute } from './rest.js';

type Handle = (req: IncomingMessage, res: ServerResponse) => void;
type Params = Record<string, string | undefined>;
type Upgrade = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  params: Record<string, string | undefined>,
) => void;

export interface HttpRoutesDeps {
  instance: string;
  /** Ready to take traffic (not draining, every Redis connection up), and Redis's state for the answer. */
  readiness: () => { ready: boolean; redis: string };
  /** Draining: requests in progress finish, new ones (but probes and metrics) go to another pod. */
  draining: () => boolean;
  metrics: Metrics;
  log: Logger;
  trpc: Handle;
  artifacts: ArtifactHttp;
  /** The dashboard's static files, or null when no build is there. */
  dashboard: Handle | null;
  /** hawkBit DDI's controller routes (`/{tenant}/controller/v1/…`), when the DDI API is on. */
  ddi: Array<[HTTPMethod[], string, (req: IncomingMessage, res: ServerResponse, params: Params) => void]>;
  /** The REST API (`/api/v1/…`, http/rest.ts); it answers a draining pod's 503 itself, in its error format. */
  rest: RestRoute[];
  /** WebSocket upgrades: the typed protocol on /trpc, the original system's cameras on /ws/<id>. */
  upgrades: { trpc: Upgrade; legacy: Upgrade };
}

/** Store of a route that takes `Expect: 100-continue` itself (an upload refused before its body). */
interface ContinueStore {
  onContinue?: Handle;
}

const OTHER_METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Every HTTP route of a pod that is not tRPC's own protocol, in one router: probes, metrics, tRPC
 * over HTTP, artifacts, the dashboard, and the WebSocket upgrades. Paths are matched without their
 * query strings; a path that matches no route gets the dashboard (its pages) or a 404.
 */
export function httpRoutes(deps: HttpRoutesDeps) {
  const notFound: Handle = (_req, res) => sendJson(res, 404, { error: 'not found' });
  const router = Router({
    ignoreTrailingSlash: true,
    defaultRoute: (req, res) => {
      if (deps.draining()) return sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
      if (deps.dashboard && (req.method === 'GET' || req.method === 'HEAD')) return deps.dashboard(req, res);
      notFound(req, res);
    },
  });
  const unlessDraining =
    (handle: Handle): Handle =>
    (req, res) => {
      if (deps.draining()) return sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
      handle(req, res);
    };
  /** `methods` on `path`; every other method answers 405 with Allow. */
  const only = (methods: HTTPMethod[], path: string, handle: Handle, store: ContinueStore = {}) => {
    router.on(methods, path, unlessDraining(handle), store);
    const others = OTHER_METHODS.filter((m) => !methods.includes(m));
    router.on(others, path, (req, res) => deps.artifacts.refuseMethod(req, res, methods.join(', ')));
  };

  router.on('GET', '/healthz', (_req, res) => sendJson(res, 200, { ok: true, instance: deps.instance }));
  router.on('GET', '/readyz', (_req, res) => {
    const { ready, redis } = deps.readiness();
    sendJson(res, ready ? 200 : 503, { ready, redis });
  });
  router.on('GET', '/metrics', (_req, res) => void sendMetrics(res, deps.metrics, deps.log));
  router.all('/trpc/*', unlessDraining(deps.trpc));
  only(['PUT'], '/artifacts', (req, res) => void deps.artifacts.upload(req, res), {
    onContinue: (req, res) => void deps.artifacts.upload(req, res, true),
  });
  router.on(['GET', 'HEAD'], '/artifacts/:sha256', (req, res, params) => {
    if (deps.draining()) return sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
    void deps.artifacts.download(req, res, params.sha256 ?? '');
  });
  router.on(['PUT', 'POST', 'PATCH', 'DELETE'], '/artifacts/:sha256', (req, res) =>
    deps.artifacts.refuseMethod(req, res, 'GET, HEAD'),
  );

  for (const [methods, path, handle] of deps.ddi) {
    router.on(methods, path, (req, res, params) => {
      if (deps.draining()) return sendJson(res, 503, { error: 'shutting down' }, { connection: 'close' });
      handle(req, res, params);
    });
  }

  for (const [methods, path, handle] of deps.rest) router.on(methods, path, handle);

  // Upgrades have no response to write to: each route keeps its handler in its store.
  const upgrades = Router();
  const onUpgrade = (path: string, upgrade: Upgrade) =>
    upgrades.on('GET', path, () => undefined, { upgrade });
  onUpgrade('/trpc', deps.upgrades.trpc);
  onUpgrade('/ws/:deviceId', deps.upgrades.legacy);

  return {
    /** Answers a request. */
    request(req: IncomingMessage, res: ServerResponse): void {
      router.lookup(req, res);
    },
    /**
     * A request that sent `Expect: 100-continue`: a route that takes it decides itself (an upload is
     * refused before its body is sent); any other gets its 100 and is answered as usual.
     */
    requestExpectingContinue(req: IncomingMessage, res: ServerResponse): void {
      const found = router.find((req.method ?? 'GET') as HTTPMethod, pathOf(req));
      const onContinue = (found?.store as ContinueStore | undefined)?.onContinue;
      if (onContinue && !deps.draining()) {
        onContinue(req, res);
        return;
      }
      res.writeContinue();
      router.lookup(req, res);
    },
    /** An HTTP upgrade: a route's WebSocket, or a plain HTTP refusal written on the socket. */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      // Node hands over an upgrade's socket without its error listener: a peer that resets while it
      // is refused or upgraded must not take the pod down.
      socket.on('error', () => socket.destroy());
      const found = req.method === 'GET' ? upgrades.find('GET', pathOf(req)) : null;
      const upgrade = (found?.store as { upgrade?: Upgrade } | undefined)?.upgrade;
      if (!found || !upgrade || deps.draining()) {
        const status = deps.draining() ? '503 Service Unavailable' : '404 Not Found';
        endRefusedUpgrade(socket, `HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
        return;
      }
      upgrade(req, socket, head, found.params);
    },
  };
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
