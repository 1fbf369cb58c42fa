/**
 * The AsyncAPI 3.0 document of device protocol 1 (docs/device-protocol/asyncapi.json): the one
 * WebSocket channel, every frame as a message whose payload is a `$ref` to its generated JSON
 * Schema file, and the pod's operations on them. Written by `pnpm protocol:schemas`.
 */

import { jsonText } from '../json-schema.js';
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
import {
  PROTOCOL_VERSION,
  type ProtocolSchemaName,
  protocolSchemaFiles,
  schemaFileName,
} from './json-schemas.js';

/** Where the document sits: next to the `schemas` folder its messages refer to. */
export const ASYNCAPI_FILE = 'asyncapi.json';
export const SCHEMAS_FOLDER = 'schemas';

/** The schemas are draft 2020-12 (they use no keyword draft-07 lacks, for tools that read only that). */
const SCHEMA_FORMAT = 'application/schema+json;version=draft-2020-12';
const CHANNEL = 'deviceProtocol';

interface MessageSpec<T> {
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

const MESSAGES = {
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
type MessageName = keyof typeof MESSAGES;

/** Every message's example, by the schema it follows (the drift test validates them). */
export function asyncApiExamples(): Array<{ schema: ProtocolSchemaName; example: unknown }> {
  return Object.values(MESSAGES).map(({ schema, example }) => ({ schema, example }));
}

interface OperationSpec {
  action: 'send' | 'receive';
  title: string;
  description: string;
  messages: MessageName[];
  reply?: MessageName[];
}

/** The pod's operations: it receives what a device sends and sends what a device receives. */
const OPERATIONS: Record<string, OperationSpec> = {
  receiveConnectionParams: {
    action: 'receive',
    title: 'Authenticate',
    description:
      'The first frame. Refused credentials are answered by an error frame with id null, then the socket closes; accepted ones by nothing.',
    messages: ['connectionParams'],
  },
  receiveEnroll: {
    action: 'receive',
    title: 'Enroll',
    description: 'On an enrollment-token connection: the device secret, once per device id.',
    messages: ['enrollRequest'],
    reply: ['enrollResponse', 'errorResponse'],
  },
  receiveRegister: {
    action: 'receive',
    title: 'Register',
    description: "The first call of every device connection; it makes this connection the device's only one.",
    messages: ['registerRequest'],
    reply: ['registerResponse', 'errorResponse'],
  },
  receiveOffersSubscribe: {
    action: 'receive',
    title: 'Subscribe to offers',
    description:
      'Answered by started (then events), or by an error; a refusal by a limit comes after started.',
    messages: ['offersRequest'],
    reply: ['subscriptionStarted', 'errorResponse'],
  },
  sendOffersEvent: {
    action: 'send',
    title: 'Push an event',
    description: 'The current offer at once on subscribing, then offers and cancel requests as they happen.',
    messages: ['offersEvent'],
  },
  receiveSubscriptionStop: {
    action: 'receive',
    title: 'Stop a subscription',
    description: 'Answered by stopped.',
    messages: ['subscriptionStop'],
    reply: ['subscriptionStopped'],
  },
  sendSubscriptionStopped: {
    action: 'send',
    title: 'End a subscription',
    description: 'After subscription.stop, or after the error that ended the subscription.',
    messages: ['subscriptionStopped'],
  },
  receiveReport: {
    action: 'receive',
    title: 'Report',
    description: 'Progress or outcome of an attempt; idempotent.',
    messages: ['reportRequest'],
    reply: ['reportResponse', 'errorResponse'],
  },
  receiveArtifactUrl: {
    action: 'receive',
    title: 'Artifact URL',
    description:
      'A fresh download URL for the current attempt; refused like a report when the attempt is not current.',
    messages: ['artifactUrlRequest'],
    reply: ['artifactUrlResponse', 'errorResponse'],
  },
  receiveRequestBatch: {
    action: 'receive',
    title: 'A batch of requests',
    description: 'Each request of the batch is answered on its own, as if sent alone.',
    messages: ['requestBatch'],
  },
  sendConnectionError: {
    action: 'send',
    title: 'Connection-level error',
    description:
      'An error that belongs to no request (id null): a frame that is not JSON, refused credentials.',
    messages: ['errorResponse'],
  },
  sendReconnect: {
    action: 'send',
    title: 'Reconnect notice',
    description: 'Before the pod drains: the device connects again, to another pod.',
    messages: ['reconnectNotice'],
  },
  sendPing: {
    action: 'send',
    title: 'Keepalive',
    description: 'After 30 s without a frame; a connection silent for 10 s more is closed.',
    messages: ['ping'],
    reply: ['pong'],
  },
  receivePing: {
    action: 'receive',
    title: 'Keepalive from the device',
    description: 'Answered by PONG.',
    messages: ['ping'],
    reply: ['pong'],
  },
};

function messageRef(name: MessageName) {
  return { $ref: `#/channels/${CHANNEL}/messages/${name}` };
}

export function asyncApiDocument(): Record<string, unknown> {
  const channel = { $ref: `#/channels/${CHANNEL}` };
  return {
    asyncapi: '3.0.0',
    id: `urn:camfleet:device-protocol:${PROTOCOL_VERSION}`,
    info: {
      title: 'camfleet device protocol',
      version: String(PROTOCOL_VERSION),
      description:
        'Device protocol 1 (docs/device-protocol.md): how a camera is told about updates, fetches them and reports ' +
        'how they went. tRPC 11\'s WebSocket messages, values in superjson\'s envelope {"json": …}. Operations ' +
        "are the pod's: it receives what a device sends and sends what a device receives. Generated from the " +
        "server's zod schemas by `pnpm protocol:schemas`.",
    },
    defaultContentType: 'application/json',
    servers: {
      pod: {
        host: '{host}',
        protocol: 'wss',
        description: 'A camfleet pod (or the load balancer before them), over TLS.',
        variables: { host: { description: 'Host and port of the base URL operators give devices.' } },
      },
      podPlain: {
        host: '{host}',
        protocol: 'ws',
        description: 'The same without TLS (a private network).',
        variables: { host: { description: 'Host and port of the base URL operators give devices.' } },
      },
    },
    channels: {
      [CHANNEL]: {
        address: '/trpc?connectionParams=1',
        title: 'Device connection',
        description:
          'One WebSocket per device, UTF-8 JSON in text frames (PING and PONG are plain text). Frames up to ' +
          '64 KiB, at most 50 a second. Close codes: 4001 credential rotated or revoked, 4002 replaced by a newer ' +
          'connection (do not reconnect), 4003 no connectionParams within 10 s, 1008 too many messages, ' +
          '1009 frame too large, 1012 the pod is shutting down.',
        messages: Object.fromEntries(
          Object.keys(MESSAGES).map((name) => [name, { $ref: `#/components/messages/${name}` }]),
        ),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                connectionParams: {
                  type: 'string',
                  const: '1',
                  description: 'The first message carries the credentials.',
                },
              },
              required: ['connectionParams'],
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations: Object.fromEntries(
      Object.entries(OPERATIONS).map(([name, op]) => [
        name,
        {
          action: op.action,
          channel,
          title: op.title,
          description: op.description,
          messages: op.messages.map(messageRef),
          ...(op.reply ? { reply: { channel, messages: op.reply.map(messageRef) } } : {}),
        },
      ]),
    ),
    components: {
      messages: Object.fromEntries(
        Object.entries(MESSAGES).map(([name, spec]: [string, MessageSpec<unknown>]) => [
          name,
          {
            name,
            title: spec.title,
            summary: spec.summary,
            ...(spec.text ? { contentType: 'text/plain' } : {}),
            payload: {
              schemaFormat: SCHEMA_FORMAT,
              schema: { $ref: `./${SCHEMAS_FOLDER}/${schemaFileName(spec.schema)}` },
            },
            examples: [{ name: 'captured', payload: spec.example }],
          },
        ]),
      ),
    },
  };
}

export function asyncApiText(): string {
  return jsonText(asyncApiDocument());
}

/** Every generated file of docs/device-protocol, by its path there. */
export function protocolDocuments(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [file, text] of protocolSchemaFiles()) files.set(`${SCHEMAS_FOLDER}/${file}`, text);
  files.set(ASYNCAPI_FILE, asyncApiText());
  return files;
}
