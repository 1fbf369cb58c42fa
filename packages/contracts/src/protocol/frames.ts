/**
 * Device protocol 1 on the wire (docs/device-protocol.md): tRPC 11's WebSocket messages, each
 * value in superjson's envelope `{"json": value}`. These schemas are what the JSON Schema files in
 * docs/device-protocol/schemas are generated from; the payloads inside come from the routers' own
 * schemas, so a frame cannot say something the server does not check.
 */
import {
  type TRPC_ERROR_CODE_KEY,
  type TRPC_ERROR_CODE_NUMBER,
  TRPC_ERROR_CODES_BY_KEY,
} from '@trpc/server/rpc';
import { z } from 'zod';
import { FLEET_ERROR_CODES, LIMIT_NAMES, type LimitInfo } from '../errors.js';
import { DeviceCredential } from '../routers/access.schema.js';
import { ArtifactUrl, ArtifactUrlInput } from '../routers/artifact-url.schema.js';
import {
  Device,
  DeviceEvent,
  OffersInput,
  RegisterInput,
  ReportInput,
  ReportResult,
} from '../routers/device.schema.js';
import { DeviceId } from '../schemas.js';

/** superjson's envelope: a device-facing value is plain JSON, so `json` is all there is. */
function envelope<T extends z.ZodType>(value: T) {
  return z.object({ json: value }).describe("superjson's envelope: the value is in json.");
}

/** The client's request id: tRPC takes a number or a string (null only in the server's answers). */
export const RequestId = z
  .union([z.number(), z.string()])
  .describe(
    'Chosen by the client, unique among its open requests on this connection; answers carry it back.',
  );

/** Optional in requests; an answer carries it when its request did. */
const JsonRpc = z
  .literal('2.0')
  .optional()
  .describe('Optional; echoed in the answer when the request had it.');

// ---------------------------------------------------------------------------------------------
// Device → server

/**
 * tRPC reads every value of `data` as a string (another type is a PARSE_ERROR and the socket
 * closes); the server reads `deviceId` with `secret`, or `deviceId` with `enrollToken`.
 */
const credentials = <T extends z.ZodRawShape>(shape: T) =>
  z.object({ deviceId: DeviceId, ...shape }).catchall(z.string());

export const DeviceSecretParams = credentials({
  secret: z.string().describe("The device's own secret (cfd_…), from provisioning or device.enroll."),
});
export const EnrollTokenParams = credentials({
  enrollToken: z
    .string()
    .describe('An enrollment token (cfe_…): such a connection may only call device.enroll.'),
});

/** The first frame on a `/trpc?connectionParams=1` socket: the credentials, never in the URL. */
export const ConnectionParamsMessage = z.object({
  method: z.literal('connectionParams'),
  data: z
    .union([DeviceSecretParams, EnrollTokenParams])
    .describe('With both a secret and an enrollToken, the secret is used.'),
});
export type ConnectionParamsMessage = z.input<typeof ConnectionParamsMessage>;

/** A request: the procedure and its input in the envelope (required: without it, a PARSE_ERROR with "id": null). */
function request<
  M extends 'mutation' | 'subscription',
  P extends string,
  I extends z.ZodType,
  X extends z.ZodRawShape = Record<never, never>,
>(method: M, path: P, input: I, extra?: X) {
  return z.object({
    id: RequestId,
    jsonrpc: JsonRpc,
    method: z.literal(method),
    params: z.object({
      path: z.literal(path),
      input: envelope(input).describe(
        'The input in superjson\'s envelope. Required: a request without it is a PARSE_ERROR with "id": null.',
      ),
      ...(extra as X),
    }),
  });
}

export const RegisterRequest = request('mutation', 'device.register', RegisterInput);
export type RegisterRequest = z.input<typeof RegisterRequest>;

/** `{"json": {}}` subscribes without a last event; tRPC's own `params.lastEventId` replaces the input's. */
export const OffersRequest = request('subscription', 'device.offers', OffersInput, {
  // Checked as the input's is: the server moves it into the input before parsing that.
  lastEventId: OffersInput.unwrap()
    .shape.lastEventId.unwrap()
    .unwrap()
    .optional()
    .describe("tRPC's resume field: the id of the last event seen; it replaces input.json.lastEventId."),
});
export type OffersRequest = z.input<typeof OffersRequest>;

export const ReportRequest = request('mutation', 'device.report', ReportInput);
export type ReportRequest = z.input<typeof ReportRequest>;

export const ArtifactUrlRequest = request('mutation', 'device.artifactUrl', ArtifactUrlInput);
export type ArtifactUrlRequest = z.input<typeof ArtifactUrlRequest>;

/** enroll takes no input; the envelope is still required, and `{"json": null}` is what to send. */
export const EnrollRequest = request('mutation', 'device.enroll', z.null());
export type EnrollRequest = z.input<typeof EnrollRequest>;

/** Ends the subscription with this id; the server answers `stopped`. */
export const SubscriptionStop = z.object({
  id: RequestId,
  jsonrpc: JsonRpc,
  method: z.literal('subscription.stop'),
});
export type SubscriptionStop = z.input<typeof SubscriptionStop>;

export const DeviceRequest = z.union([
  RegisterRequest,
  OffersRequest,
  ReportRequest,
  ArtifactUrlRequest,
  EnrollRequest,
]);

/** tRPC clients may send several requests in one frame (after a reconnect, say); each is answered apart. */
export const RequestBatch = z.array(z.union([DeviceRequest, SubscriptionStop]));
export type RequestBatch = z.input<typeof RequestBatch>;

/** Keepalive: plain text frames, not JSON. Either side sends PING after a quiet while; the other answers PONG. */
export const Ping = z.literal('PING');
export const Pong = z.literal('PONG');

/** Any JSON frame a device sends (the keepalive text frames aside). */
export const ClientFrame = z.union([ConnectionParamsMessage, DeviceRequest, SubscriptionStop, RequestBatch]);
export type ClientFrame = z.input<typeof ClientFrame>;

// ---------------------------------------------------------------------------------------------
// Server → device

const TRPC_CODE_KEYS = Object.keys(TRPC_ERROR_CODES_BY_KEY) as [
  TRPC_ERROR_CODE_KEY,
  ...TRPC_ERROR_CODE_KEY[],
];
const TRPC_CODE_NUMBERS = [...new Set(Object.values(TRPC_ERROR_CODES_BY_KEY))] as TRPC_ERROR_CODE_NUMBER[];

export const WireLimit = z.object({
  name: z.enum(LIMIT_NAMES),
  knob: z.string().describe("The pod's environment variable that sets the limit."),
  retryAfterSeconds: z.number().nullable().describe('When to try again, for limits that pass with time.'),
}) satisfies z.ZodType<LimitInfo>;

/** zod's `flattenError`: the input's problems, by field. */
export const WireZodIssues = z.object({
  formErrors: z.array(z.string()),
  fieldErrors: z.record(z.string(), z.array(z.string())),
});

/** An error as the errorFormatter (trpc.ts) shapes it: checked there at compile time. */
export const WireError = z.object({
  message: z.string().describe('For people (logs); do not parse it.'),
  code: z.literal(TRPC_CODE_NUMBERS).describe('The JSON-RPC number of data.code.'),
  data: z.object({
    code: z.enum(TRPC_CODE_KEYS),
    httpStatus: z.number().int(),
    path: z.string().optional().describe('The procedure; absent on connection-level errors.'),
    fleetCode: z
      .enum(FLEET_ERROR_CODES)
      .nullable()
      .describe("camfleet's own code, what a client acts on; null for errors of the protocol itself."),
    limit: WireLimit.nullable().describe(
      'The limit that refused the request (TOO_MANY_REQUESTS), else null.',
    ),
    zodIssues: WireZodIssues.nullable().describe('For invalid input (BAD_REQUEST), else null.'),
  }),
});
export type WireError = z.infer<typeof WireError>;

/** What tRPC sends instead when the error could not be formatted or encoded (a server bug). */
export const FallbackWireError = z.object({
  code: z.literal(TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR),
  message: z.literal('Internal server error'),
  data: z.object({ code: z.literal('INTERNAL_SERVER_ERROR'), httpStatus: z.literal(500) }),
});

/** A frame that answers request `id`. */
function answer<R extends z.ZodType>(result: R) {
  return z.object({ id: RequestId, jsonrpc: JsonRpc, result });
}

function response<T extends z.ZodType>(value: T) {
  return answer(z.object({ type: z.literal('data'), data: envelope(value) }));
}

export const RegisterResponse = response(Device);
export type RegisterResponse = z.infer<typeof RegisterResponse>;
export const ReportResponse = response(ReportResult);
export type ReportResponse = z.infer<typeof ReportResponse>;
export const EnrollResponse = response(DeviceCredential);
export type EnrollResponse = z.infer<typeof EnrollResponse>;
export const ArtifactUrlResponse = response(ArtifactUrl);
export type ArtifactUrlResponse = z.infer<typeof ArtifactUrlResponse>;

export const SubscriptionStarted = answer(z.object({ type: z.literal('started') }));
export type SubscriptionStarted = z.infer<typeof SubscriptionStarted>;

const EventId = z.string().describe('The event id: send it back as lastEventId when subscribing again.');

/** A tracked event: its id twice, in `result.id` and beside the event inside the envelope. */
export const OffersEvent = answer(
  z.object({
    type: z.literal('data'),
    id: EventId,
    data: envelope(z.object({ id: EventId, data: DeviceEvent })),
  }),
);
export type OffersEvent = z.infer<typeof OffersEvent>;

export const SubscriptionStopped = answer(z.object({ type: z.literal('stopped') }));
export type SubscriptionStopped = z.infer<typeof SubscriptionStopped>;

export const ErrorResponse = z.object({
  id: RequestId.nullable().describe('The failed request, or null for an error of the connection itself.'),
  jsonrpc: JsonRpc,
  error: envelope(z.union([WireError, FallbackWireError])),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

/** Sent before a pod drains: close this connection and connect again (to another pod). */
export const ReconnectNotice = z.object({ id: z.null(), method: z.literal('reconnect') });
export type ReconnectNotice = z.infer<typeof ReconnectNotice>;

/** Any JSON frame the server sends a device (the keepalive text frames aside). */
export const ServerFrame = z.union([
  RegisterResponse,
  ReportResponse,
  ArtifactUrlResponse,
  EnrollResponse,
  SubscriptionStarted,
  OffersEvent,
  SubscriptionStopped,
  ErrorResponse,
  ReconnectNotice,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
