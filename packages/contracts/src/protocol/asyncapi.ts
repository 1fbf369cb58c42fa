/**
 * The AsyncAPI 3.0 document of device protocol 1 (docs/device-protocol/asyncapi.json): the one
 * WebSocket channel, every frame as a message whose payload is a `$ref` to its generated JSON
 * Schema file, and the pod's operations on them. Written by `pnpm protocol:schemas`.
 */

import { jsonText } from '../json-schema.js';
import { MESSAGES, type MessageName, type MessageSpec } from './asyncapi-messages.js';
import { PROTOCOL_VERSION, protocolSchemaFiles, schemaFileName } from './json-schemas.js';

/** Where the document sits: next to the `schemas` folder its messages refer to. */
export const ASYNCAPI_FILE = 'asyncapi.json';
export const SCHEMAS_FOLDER = 'schemas';

/** The schemas are draft 2020-12 (they use no keyword draft-07 lacks, for tools that read only that). */
const SCHEMA_FORMAT = 'application/schema+json;version=draft-2020-12';
const CHANNEL = 'deviceProtocol';

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
