/**
 * The messages of device protocol 1's AsyncAPI document (asyncapi.ts): each frame's schema file,
 * title, summary, and an example captured from a pod, typed by its frame so it cannot drift.
 */
import type { Device, DeviceEvent } from '../routers/device.schema.js';
import type {
  ArtifactUrlRequest,
  ArtifactUrlResponse,
  ConnectionParamsMessage,
  EnrollRequest,
  EnrollResponse,
  ErrorResponse,
  OffersEvent,
  OffersRequest,
  ReconnectNotice,
  RegisterRequest,
  RegisterResponse,
  ReportRequest,
  ReportResponse,
  RequestBatch,
  SubscriptionStarted,
  SubscriptionStop,
  SubscriptionStopped,
  WireError,
} from './frames.js';
import type { ProtocolSchemaName } from './json-schemas.js';

export interface MessageSpec<T> {
  schema: ProtocolSchemaName;
  title: string;
  summary: string;
  /** A frame as captured from a pod (ids, secrets and times differ from run to run). */
  example: T;
  text?: true;
}

const OFFER_ID = 'ro_57dceb73f16552883fec:cam-0001#1';
const DELIVERY_ID = 'ro_57dceb73f16552883fec:cam-0001';
const SHA256 = 'dbf1bce8c5e41be6f0c17880b1ed3033714b384b2c2232b1c7b4f3fda822b6ce';

/** Values as captured from a pod, for the examples here and for tests. */
export const EXAMPLE_DEVICE: Device = {
  id: 'cam-0001',
  model: 'cam-x',
  firmwareVersion: '1.0.0',
  labels: { site: 'north' },
  firstSeenAt: 1796526063816,
  lastSeenAt: 1796526063828,
  online: true,
  node: 'test.1dc6ab',
};
export const EXAMPLE_OFFER = {
  type: 'offer',
  offer: {
    offerId: OFFER_ID,
    deliveryId: DELIVERY_ID,
    rolloutId: 'ro_57dceb73f16552883fec',
    attempt: 1,
    patch: {
      id: 'pat_89b250c87198cd614391',
      name: 'fw',
      version: '2.0.0',
      notes: '',
      artifact: { sha256: SHA256, size: 14, url: `/artifacts/${SHA256}` },
      delta: null,
      signature: null,
    },
    ackTimeoutMs: 60000,
    deadlineAt: 1796526123906,
    installWindow: null,
  },
} satisfies DeviceEvent;

export const EXAMPLE_CONFLICT: WireError = {
  message: `report for ${DELIVERY_ID}: delivery already succeeded`,
  code: -32009,
  data: {
    code: 'CONFLICT',
    httpStatus: 409,
    path: 'device.report',
    fleetCode: 'DELIVERY_FINISHED',
    limit: null,
    zodIssues: null,
  },
};

/** Each typed by its frame, so an example cannot drift from the schemas either. */
const connectionParams: MessageSpec<ConnectionParamsMessage> = {
  schema: 'connection-params',
  title: 'connectionParams',
  summary: 'The credentials: the first frame on the socket, within 10 s.',
  example: {
    method: 'connectionParams',
    data: { deviceId: 'cam-0001', secret: 'cfd_iiJ_r-EOWBECXgYU2Kuk9WZXdWMpHSHDrePtP__TBCw' },
  },
};
const registerRequest: MessageSpec<RegisterRequest> = {
  schema: 'register-request',
  title: 'device.register',
  summary: 'What the device is and runs; the first call of every connection.',
  example: {
    id: 1,
    method: 'mutation',
    params: {
      path: 'device.register',
      input: { json: { model: 'cam-x', firmwareVersion: '1.0.0', labels: { site: 'north' } } },
    },
  },
};
const registerResponse: MessageSpec<RegisterResponse> = {
  schema: 'register-response',
  title: 'device.register result',
  summary: 'The device as recorded.',
  example: { id: 1, result: { type: 'data', data: { json: EXAMPLE_DEVICE } } },
};
const offersRequest: MessageSpec<OffersRequest> = {
  schema: 'offers-request',
  title: 'device.offers',
  summary: 'Subscribes to offers and cancel requests, after the last event seen.',
  example: {
    id: 2,
    method: 'subscription',
    params: { path: 'device.offers', input: { json: { lastEventId: OFFER_ID } }, lastEventId: OFFER_ID },
  },
};
const subscriptionStarted: MessageSpec<SubscriptionStarted> = {
  schema: 'subscription-started',
  title: 'started',
  summary: 'The subscription is open.',
  example: { id: 2, result: { type: 'started' } },
};
const offersEvent: MessageSpec<OffersEvent> = {
  schema: 'offers-event',
  title: 'device.offers event',
  summary: 'An offer to install, or a request to cancel one.',
  example: {
    id: 2,
    result: { type: 'data', id: OFFER_ID, data: { json: { id: OFFER_ID, data: EXAMPLE_OFFER } } },
  },
};
const subscriptionStop: MessageSpec<SubscriptionStop> = {
  schema: 'subscription-stop',
  title: 'subscription.stop',
  summary: 'Ends a subscription.',
  example: { id: 2, method: 'subscription.stop' },
};
const subscriptionStopped: MessageSpec<SubscriptionStopped> = {
  schema: 'subscription-stopped',
  title: 'stopped',
  summary: 'The subscription ended.',
  example: { id: 2, result: { type: 'stopped' } },
};
const reportRequest: MessageSpec<ReportRequest> = {
  schema: 'report-request',
  title: 'device.report',
  summary: 'Progress or the outcome of an attempt.',
  example: {
    id: 3,
    method: 'mutation',
    params: {
      path: 'device.report',
      input: { json: { deliveryId: DELIVERY_ID, attempt: 1, status: 'downloading', progress: 50, bytes: 7 } },
    },
  },
};
const reportResponse: MessageSpec<ReportResponse> = {
  schema: 'report-response',
  title: 'device.report result',
  summary: "The delivery's state after the report.",
  example: {
    id: 3,
    result: {
      type: 'data',
      data: { json: { deliveryId: DELIVERY_ID, attempt: 1, state: 'downloading', duplicate: false } },
    },
  },
};
const artifactUrlRequest: MessageSpec<ArtifactUrlRequest> = {
  schema: 'artifact-url-request',
  title: 'device.artifactUrl',
  summary: 'A fresh download URL for the artifact of the current attempt (a presigned one expired).',
  example: {
    id: 4,
    method: 'mutation',
    params: { path: 'device.artifactUrl', input: { json: { deliveryId: DELIVERY_ID, attempt: 1 } } },
  },
};
const artifactUrlResponse: MessageSpec<ArtifactUrlResponse> = {
  schema: 'artifact-url-response',
  title: 'device.artifactUrl result',
  summary: 'The URL, and when it stops working (null: the pod’s own, which does not).',
  example: {
    id: 4,
    result: { type: 'data', data: { json: { url: `/artifacts/${SHA256}`, expiresAt: null } } },
  },
};
const enrollRequest: MessageSpec<EnrollRequest> = {
  schema: 'enroll-request',
  title: 'device.enroll',
  summary: 'Trades the enrollment token for the device secret, once.',
  example: { id: 1, method: 'mutation', params: { path: 'device.enroll', input: { json: null } } },
};
const enrollResponse: MessageSpec<EnrollResponse> = {
  schema: 'enroll-response',
  title: 'device.enroll result',
  summary: "The device's own secret, shown this once.",
  example: {
    id: 1,
    result: {
      type: 'data',
      data: { json: { deviceId: 'cam-0009', secret: 'cfd_cRJO0u9qX6rJnqZfxbV8p9riZ58jQv3SpZOJTDYZyyM' } },
    },
  },
};
const requestBatch: MessageSpec<RequestBatch> = {
  schema: 'request-batch',
  title: 'Batch',
  summary: 'Several requests in one frame (tRPC clients send them so); each is answered apart.',
  example: [
    { id: 4, method: 'subscription.stop' },
    { id: 5, method: 'subscription', params: { path: 'device.offers', input: { json: {} } } },
  ],
};
const errorResponse: MessageSpec<ErrorResponse> = {
  schema: 'error-response',
  title: 'Error',
  summary: 'A refused request (its id), or an error of the connection (id null).',
  example: {
    id: 7,
    error: { json: EXAMPLE_CONFLICT },
  },
};
const reconnectNotice: MessageSpec<ReconnectNotice> = {
  schema: 'reconnect-notice',
  title: 'reconnect',
  summary: 'The pod drains: connect again, to another pod.',
  example: { id: null, method: 'reconnect' },
};
const ping: MessageSpec<'PING'> = {
  schema: 'ping',
  title: 'PING',
  summary: 'Keepalive after a quiet while (plain text).',
  example: 'PING',
  text: true,
};
const pong: MessageSpec<'PONG'> = {
  schema: 'pong',
  title: 'PONG',
  summary: 'The answer to PING (plain text).',
  example: 'PONG',
  text: true,
};

export const MESSAGES = {
  connectionParams,
  registerRequest,
  registerResponse,
  offersRequest,
  subscriptionStarted,
  offersEvent,
  subscriptionStop,
  subscriptionStopped,
  reportRequest,
  reportResponse,
  artifactUrlRequest,
  artifactUrlResponse,
  enrollRequest,
  enrollResponse,
  requestBatch,
  errorResponse,
  reconnectNotice,
  ping,
  pong,
};
export type MessageName = keyof typeof MESSAGES;

/** Every message's example, by the schema it follows (the drift test validates them). */
export function asyncApiExamples(): Array<{ schema: ProtocolSchemaName; example: unknown }> {
  return Object.values(MESSAGES).map(({ schema, example }) => ({ schema, example }));
}
