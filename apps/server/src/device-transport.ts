// One file on purpose (over 450 lines): one adapter whose parts (routing, a link, calls, subscriptions, replies) share the frame shapes and error shaping, and are read together against tRPC's own adapter.
import type { IncomingMessage } from 'node:http';
import type { FleetContext } from '@camfleet/contracts';
import {
  type AnyRouter,
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  isTrackedEnvelope,
  TRPCError,
} from '@trpc/server';
import type { CreateWSSContextFnOptions } from '@trpc/server/adapters/ws';
import { parseTRPCMessage, type TRPCClientOutgoingMessage } from '@trpc/server/rpc';
import {
  isAbortError,
  isAsyncIterable,
  isObject,
  parseConnectionParamsFromUnknown,
} from '@trpc/server/unstable-core-do-not-import';
import type { RawData, WebSocket } from 'ws';
import { deserializeParsedSuperjson, isDefaultSuperjson, serializeSuperjson } from './plain-json.js';

/**
 * The device transport (issue #21): device protocol 1 served without tRPC's generic WebSocket
 * adapter. The frames, the procedures and their errors are tRPC's: every call goes through the
 * router with `callProcedure` (middlewares, zod, the error formatter), results and errors leave in
 * the router's superjson envelope, shaped as the adapter shapes them. What is gone is the adapter's
 * per-message machinery: a frame is parsed once and dispatched, a mutation runs without an
 * AbortController or a `using` scope, and a subscription is one loop over its async iterator (one
 * AbortController, no `Unpromise.race` per event).
 *
 * Only connections whose connectionParams name a device (a secret or an enrollment token, with
 * `deviceId`) are served here; any other first frame (an admin token, nothing, garbage) is handed,
 * as it came, to tRPC's adapter (`fallback`).
 *
 * One file on purpose: it is one adapter, whose parts (routing, a connection's link, calls,
 * subscriptions, replies) share the frame shapes and the error shaping, and are read together
 * against tRPC's own adapter.
 */

type ProcedureType = 'query' | 'mutation' | 'subscription';
type RequestId = string | number;
type Jsonrpc = '2.0' | undefined;

export interface DeviceTransportError {
  error: TRPCError;
  path: string | undefined;
  type: ProcedureType | 'unknown';
  ctx: FleetContext | undefined;
  input: unknown;
}

export interface DeviceTransportOptions {
  router: AnyRouter;
  /** The connection's context from its connectionParams (throws to refuse it), as tRPC's adapter calls it. */
  createContext: (opts: CreateWSSContextFnOptions) => Promise<FleetContext>;
  onError: (info: DeviceTransportError) => void;
  /** Serves a socket with tRPC's adapter: connections that are not a device's. */
  fallback: (ws: WebSocket, req: IncomingMessage) => void;
}

/** What a frame of a connection holds: its requests, each with its index in the batch. */
type Request = TRPCClientOutgoingMessage;

/** Never aborted: the context's `info.signal` (camfleet's createContext does not read it). */
const NEVER = new AbortController().signal;
const STARTED = { type: 'started' } as const;
const STOPPED = { type: 'stopped' } as const;
const BINARY =
  'jsonEncoder received binary data. JSON uses text frames. Use a binary encoder for binary data.';

/**
 * A request's `getRawInput`. Made by a function, not an arrow in the call's options: tsx (esbuild's
 * keepNames) wraps every arrow that gets its name from a property in a `__name` call, which
 * defines the function's name property on each call.
 */
function rawInput(input: unknown): () => Promise<unknown> {
  return () => Promise.resolve(input);
}

/** Whether the upgrade asked for a connectionParams frame first (`?connectionParams=1`). */
function wantsConnectionParams(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  return query >= 0 && new URLSearchParams(url.slice(query + 1)).get('connectionParams') === '1';
}

/**
 * Returns the WebSocket connection handler: device connections are served here, every other one by
 * `fallback`. Per connection it keeps no closures: the listeners are shared, the state is a `Link`.
 */
export function deviceTransport(
  options: DeviceTransportOptions,
): (ws: WebSocket, req: IncomingMessage) => void {
  const transport = new Transport(options);
  return (ws, req) => transport.accept(ws, req);
}

class Transport {
  readonly config: AnyRouter['_def']['_config'];
  /** The router's transformer's serialize: superjson's, without its walk for plain JSON. */
  readonly serialize: (value: unknown) => unknown;
  /** The transformer requests' inputs are read with: superjson's, without its copy of a frame just parsed. */
  readonly requestTransformer: AnyRouter['_def']['_config']['transformer'];
  /** Sockets whose connectionParams have not arrived yet, and their upgrade requests. */
  private readonly waiting = new WeakMap<WebSocket, IncomingMessage>();
  readonly links = new WeakMap<WebSocket, Link>();
  private readonly onFirstFrame: (this: WebSocket, raw: RawData, isBinary: boolean) => void;
  readonly onFrame: (this: WebSocket, raw: RawData, isBinary: boolean) => void;
  readonly onClose: (this: WebSocket) => void;
  private readonly onSocketError: (this: WebSocket, cause: Error) => void;

  constructor(readonly options: DeviceTransportOptions) {
    this.config = options.router._def._config;
    const transformer = this.config.transformer;
    const superjson = isDefaultSuperjson(transformer);
    this.serialize = superjson ? serializeSuperjson : (value) => transformer.output.serialize(value);
    this.requestTransformer = superjson
      ? {
          input: {
            serialize: (value) => transformer.input.serialize(value),
            deserialize: deserializeParsedSuperjson,
          },
          output: transformer.output,
        }
      : transformer;
    const transport = this;
    this.onFirstFrame = function (raw, isBinary) {
      transport.firstFrame(this, raw, isBinary);
    };
    this.onFrame = function (raw, isBinary) {
      transport.links.get(this)?.frame(raw, isBinary);
    };
    this.onClose = function () {
      transport.links.get(this)?.closed();
    };
    this.onSocketError = function (cause) {
      transport.report({
        error: getTRPCErrorFromUnknown(cause),
        path: undefined,
        type: 'unknown',
        ctx: transport.links.get(this)?.ctx ?? undefined,
        input: undefined,
      });
    };
  }

  accept(ws: WebSocket, req: IncomingMessage): void {
    if (!wantsConnectionParams(req)) {
      this.options.fallback(ws, req);
      return;
    }
    this.waiting.set(ws, req);
    ws.on('message', this.onFirstFrame);
    ws.on('error', this.onSocketError);
  }

  /** The connection's first frame (keepalive aside): a device's connectionParams, or tRPC's business. */
  private firstFrame(ws: WebSocket, raw: RawData, isBinary: boolean): void {
    if (!isBinary) {
      const text = raw.toString();
      if (text === 'PONG') return;
      if (text === 'PING') {
        ws.send('PONG');
        return;
      }
    }
    const req = this.waiting.get(ws);
    if (!req) return;
    this.waiting.delete(ws);
    ws.off('message', this.onFirstFrame);
    const params = !isBinary && Buffer.isBuffer(raw) ? deviceParams(raw.toString('utf8')) : null;
    if (!params) {
      // Not a device: tRPC's adapter takes the socket and reads this frame as its connectionParams.
      ws.off('error', this.onSocketError);
      const before = new Set(ws.listeners('message'));
      this.options.fallback(ws, req);
      for (const listener of ws.listeners('message'))
        if (!before.has(listener))
          (listener as (raw: RawData, isBinary: boolean) => void).call(ws, raw, isBinary);
      return;
    }
    const link = new Link(this, ws);
    this.links.set(ws, link);
    ws.on('message', this.onFrame);
    ws.once('close', this.onClose);
    link.authenticate(req, params);
  }

  /** What escaped a request's own handling (a reply that could not be built): reported, never thrown. */
  readonly reportUnexpected = (cause: unknown): void => {
    this.report({
      error: getTRPCErrorFromUnknown(cause),
      path: undefined,
      type: 'unknown',
      ctx: undefined,
      input: undefined,
    });
  };

  /** onError, which must not throw into a listener or an unawaited promise. */
  report(info: DeviceTransportError): TRPCError {
    try {
      this.options.onError(info);
    } catch (cause) {
      console.error('[device-transport]', cause);
    }
    return info.error;
  }

  /** The router's error shape (its errorFormatter), or the adapter's fallback when that throws. */
  shape(
    error: TRPCError,
    type: ProcedureType | 'unknown',
    path: string | undefined,
    input: unknown,
    ctx: FleetContext | undefined,
  ): unknown {
    try {
      return getTRPCErrorShape({ config: this.config, ctx, error, type, path, input });
    } catch (cause) {
      this.report({ error: getTRPCErrorFromUnknown(cause), path, type, ctx, input });
      return {
        code: -32603,
        message: 'Internal server error',
        data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
      };
    }
  }
}

/** The connectionParams of a device (`deviceId` with a secret or an enrollment token), or null. */
function deviceParams(text: string): Record<string, string> | null {
  try {
    const message: unknown = JSON.parse(text);
    if (!isObject(message)) return null;
    const params = parseConnectionParamsFromUnknown(message.data);
    if (!params || typeof params.deviceId !== 'string') return null;
    const strings: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) if (typeof value === 'string') strings[key] = value;
    return strings;
  } catch {
    return null;
  }
}

type LinkState =
  | { kind: 'authenticating'; queue: Array<[Request, number]> }
  | { kind: 'ready'; ctx: FleetContext }
  | { kind: 'refused'; error: TRPCError };

/** One device connection: its context once authenticated, and its subscriptions by request id. */
class Link {
  private state: LinkState = { kind: 'authenticating', queue: [] };
  private subscriptions: Map<RequestId, AbortController> | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly ws: WebSocket,
  ) {}

  get ctx(): FleetContext | null {
    return this.state.kind === 'ready' ? this.state.ctx : null;
  }

  authenticate(req: IncomingMessage, connectionParams: Record<string, string>): void {
    const info: CreateWSSContextFnOptions['info'] = {
      connectionParams,
      calls: [],
      isBatchCall: false,
      accept: null,
      type: 'unknown',
      signal: NEVER,
      url: null,
    };
    this.transport.options
      .createContext({ req, res: this.ws, info })
      .then(
        (ctx) => this.settled({ kind: 'ready', ctx }),
        (cause: unknown) => {
          const error = this.transport.report({
            error: getTRPCErrorFromUnknown(cause),
            path: undefined,
            type: 'unknown',
            ctx: undefined,
            input: undefined,
          });
          this.respondWith(
            null,
            undefined,
            this.transport.serialize(this.shape(error, 'unknown', undefined, undefined)),
          );
          setImmediate(() => this.ws.close());
          this.settled({ kind: 'refused', error });
        },
      )
      .catch(this.transport.reportUnexpected);
  }

  private settled(state: LinkState): void {
    const before = this.state;
    this.state = state;
    if (before.kind === 'authenticating')
      for (const [request, index] of before.queue) this.handle(request, index);
  }

  /** A frame after the connectionParams: keepalive, or one request or a batch of them. */
  frame(raw: RawData, isBinary: boolean): void {
    let text = '';
    if (!isBinary) {
      text = raw.toString();
      if (text === 'PONG') return;
      if (text === 'PING') {
        this.ws.send('PONG');
        return;
      }
    }
    if (!Buffer.isBuffer(raw)) {
      const error = new TRPCError({
        code: 'UNPROCESSABLE_CONTENT',
        message: 'Unexpected WebSocket message format',
      });
      this.respondError(null, undefined, error, 'unknown', undefined, undefined);
      return;
    }
    let requests: Request[];
    try {
      if (isBinary) throw new Error(BINARY);
      const json: unknown = JSON.parse(text);
      const transformer = this.transport.requestTransformer;
      requests = Array.isArray(json)
        ? json.map((item: unknown) => parseTRPCMessage(item, transformer))
        : [parseTRPCMessage(json, transformer)];
    } catch (cause) {
      const error = new TRPCError({ code: 'PARSE_ERROR', cause });
      this.respondError(null, undefined, error, 'unknown', undefined, undefined);
      return;
    }
    const state = this.state;
    for (let index = 0; index < requests.length; index++) {
      const request = requests[index] as Request;
      if (state.kind === 'authenticating') state.queue.push([request, index]);
      else this.handle(request, index);
    }
  }

  private handle(request: Request, batchIndex: number): void {
    const { id, jsonrpc } = request;
    if (id === null) {
      const error = this.transport.report({
        error: new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' }),
        path: undefined,
        type: 'unknown',
        ctx: this.ctx ?? undefined,
        input: undefined,
      });
      this.respondError(null, jsonrpc, error, 'unknown', undefined, undefined);
      return;
    }
    if (request.method === 'subscription.stop') {
      this.subscriptions?.get(id)?.abort();
      return;
    }
    const type = request.method;
    const { path, lastEventId } = request.params;
    let input = request.params.input;
    // As tRPC's adapter: `params.lastEventId` joins the input (and wins over the input's own).
    if (lastEventId !== undefined) {
      if (isObject(input)) input = { ...input, lastEventId };
      else input ??= { lastEventId };
    }
    const state = this.state;
    if (state.kind === 'refused') {
      this.fail(id, jsonrpc, type, path, input, state.error);
      return;
    }
    if (state.kind !== 'ready') return;
    if (type === 'subscription') {
      this.subscribe(state.ctx, id, jsonrpc, path, input, batchIndex);
      return;
    }
    this.call(state.ctx, id, jsonrpc, type, path, input, batchIndex).catch(this.transport.reportUnexpected);
  }

  /** A query or mutation: the procedure's result, or its error. */
  private async call(
    ctx: FleetContext,
    id: RequestId,
    jsonrpc: Jsonrpc,
    type: ProcedureType,
    path: string,
    input: unknown,
    batchIndex: number,
  ): Promise<void> {
    try {
      const data: unknown = await callTRPCProcedure({
        router: this.transport.options.router,
        path,
        getRawInput: rawInput(input),
        ctx,
        type,
        signal: undefined,
        batchIndex,
      });
      if (isAsyncIterable(data))
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${type} procedure with WebSockets`,
        });
      this.respond(id, jsonrpc, { type: 'data', data: this.transport.serialize(data) });
    } catch (cause) {
      this.fail(id, jsonrpc, type, path, input, cause);
    }
  }

  private subscribe(
    ctx: FleetContext,
    id: RequestId,
    jsonrpc: Jsonrpc,
    path: string,
    input: unknown,
    batchIndex: number,
  ): void {
    this.subscriptions ??= new Map();
    if (this.subscriptions.has(id)) {
      const error = new TRPCError({ message: `Duplicate id ${id}`, code: 'BAD_REQUEST' });
      this.fail(id, jsonrpc, 'subscription', path, input, error);
      return;
    }
    const controller = new AbortController();
    this.subscriptions.set(id, controller);
    this.run(ctx, controller, id, jsonrpc, path, input, batchIndex).catch(this.transport.reportUnexpected);
  }

  /**
   * A subscription: `started`, one `data` frame per event of its iterator, `stopped` when it ends
   * (the client's `subscription.stop` or the socket's close aborts its signal, which ends the
   * router's generator; an error frame before `stopped` when it fails).
   */
  private async run(
    ctx: FleetContext,
    controller: AbortController,
    id: RequestId,
    jsonrpc: Jsonrpc,
    path: string,
    input: unknown,
    batchIndex: number,
  ): Promise<void> {
    const signal = controller.signal;
    let iterator: AsyncIterator<unknown> | null = null;
    try {
      if (this.ws.readyState !== this.ws.OPEN) return;
      const result: unknown = await callTRPCProcedure({
        router: this.transport.options.router,
        path,
        getRawInput: rawInput(input),
        ctx,
        type: 'subscription',
        signal,
        batchIndex,
      });
      if (!isAsyncIterable(result))
        throw new TRPCError({
          message: `Subscription ${path} did not return an observable or a AsyncGenerator`,
          code: 'INTERNAL_SERVER_ERROR',
        });
      iterator = result[Symbol.asyncIterator]();
      if (signal.aborted || this.ws.readyState !== this.ws.OPEN) {
        controller.abort();
        return;
      }
      this.respond(id, jsonrpc, STARTED);
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await iterator.next();
        } catch (cause) {
          if (!signal.aborted) throw cause;
          // Stopped: an AbortError is how a stopped source ends; anything else is reported.
          const error = getTRPCErrorFromUnknown(cause);
          if (!isAbortError(error.cause)) this.report(error, path, input);
          iterator = null;
          break;
        }
        if (next.done) {
          iterator = null;
          break;
        }
        if (signal.aborted) break;
        this.event(id, jsonrpc, next.value);
      }
    } catch (cause) {
      iterator = null;
      controller.abort();
      const error = getTRPCErrorFromUnknown(cause);
      // A setup given up because the subscription was stopped meanwhile is not answered (as tRPC).
      if (signal.aborted && error.code === 'INTERNAL_SERVER_ERROR' && isAbortError(error.cause)) {
        this.forget(id, controller);
        return;
      }
      this.fail(id, jsonrpc, 'subscription', path, input, error);
    } finally {
      if (iterator) {
        controller.abort();
        try {
          await iterator.return?.();
        } catch (cause) {
          this.report(getTRPCErrorFromUnknown(cause), path, input);
        }
      }
      this.forget(id, controller);
    }
    this.respond(id, jsonrpc, STOPPED);
  }

  private forget(id: RequestId, controller: AbortController): void {
    if (this.subscriptions?.get(id) === controller) this.subscriptions.delete(id);
  }

  /** One event, as tRPC's adapter sends it: a tracked event carries its id twice. */
  private event(id: RequestId, jsonrpc: Jsonrpc, value: unknown): void {
    if (isTrackedEnvelope(value)) {
      const [eventId, data] = value;
      this.respond(id, jsonrpc, {
        type: 'data',
        data: this.transport.serialize({ id: eventId, data }),
        id: eventId,
      });
    } else this.respond(id, jsonrpc, { type: 'data', data: this.transport.serialize(value) });
  }

  /** The socket closed: its subscriptions end. */
  closed(): void {
    const subscriptions = this.subscriptions;
    if (!subscriptions) return;
    for (const controller of subscriptions.values()) controller.abort();
    subscriptions.clear();
  }

  private report(error: TRPCError, path: string, input: unknown): void {
    this.transport.report({ error, path, type: 'subscription', ctx: this.ctx ?? undefined, input });
  }

  /** A request's error: reported to onError, and sent with the request's id. */
  private fail(
    id: RequestId,
    jsonrpc: Jsonrpc,
    type: ProcedureType,
    path: string,
    input: unknown,
    cause: unknown,
  ): void {
    const error = this.transport.report({
      error: getTRPCErrorFromUnknown(cause),
      path,
      type,
      ctx: this.ctx ?? undefined,
      input,
    });
    this.respondError(id, jsonrpc, error, type, path, input);
  }

  private shape(
    error: TRPCError,
    type: ProcedureType | 'unknown',
    path: string | undefined,
    input: unknown,
  ): unknown {
    return this.transport.shape(error, type, path, input, this.ctx ?? undefined);
  }

  private respondError(
    id: RequestId | null,
    jsonrpc: Jsonrpc,
    error: TRPCError,
    type: ProcedureType | 'unknown',
    path: string | undefined,
    input: unknown,
  ): void {
    this.respondWith(id, jsonrpc, this.transport.serialize(this.shape(error, type, path, input)));
  }

  /** Sends a frame while the socket is open (PodSocket's send applies the unsent-bytes cap). */
  private respond(id: RequestId | null, jsonrpc: Jsonrpc, result: unknown): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ id, jsonrpc, result }));
  }

  private respondWith(id: RequestId | null, jsonrpc: Jsonrpc, error: unknown): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ id, jsonrpc, error }));
  }
}
