/**
 * The JSON Schema files of device protocol 1 (docs/device-protocol/schemas), generated from the
 * zod schemas the server validates with (`pnpm protocol:schemas` writes them; a test fails when
 * the committed files differ). How zod becomes JSON Schema, refinements included, is
 * json-schema.ts.
 */
import type { z } from 'zod';
import { canonical, type JsonSchema, jsonText, zodJsonSchema } from '../json-schema.js';
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
import {
  ArtifactUrlRequest,
  ArtifactUrlResponse,
  ClientFrame,
  ConnectionParamsMessage,
  EnrollRequest,
  EnrollResponse,
  ErrorResponse,
  OffersEvent,
  OffersRequest,
  Ping,
  Pong,
  ReconnectNotice,
  RegisterRequest,
  RegisterResponse,
  ReportRequest,
  ReportResponse,
  RequestBatch,
  ServerFrame,
  SubscriptionStarted,
  SubscriptionStop,
  SubscriptionStopped,
  WireError,
} from './frames.js';

export const PROTOCOL_VERSION = 1;
export const SCHEMA_BASE_URI = `https://camfleet.dev/device-protocol/${PROTOCOL_VERSION}/`;

export interface ProtocolSchema {
  /** The file is `<name>.schema.json`. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly schema: z.ZodType;
  /**
   * `input`: what a device sends, as the server accepts it (before defaults and transforms; extra
   * keys are ignored). `output`: what the server sends (closed: it sends no other keys).
   */
  readonly io: 'input' | 'output';
}

const SENT = 'Sent by the device.';
const RECEIVED =
  'Sent by the server. Closed: version 1 sends no other keys, but a client should ignore keys it does not know.';

export const PROTOCOL_SCHEMAS = [
  // Values inside the envelope
  {
    name: 'register-input',
    title: 'device.register input',
    description: 'What a device says it is and runs, on every connection.',
    schema: RegisterInput,
    io: 'input',
  },
  {
    name: 'device',
    title: 'device.register output: Device',
    description: 'The device as the server records it.',
    schema: Device,
    io: 'output',
  },
  {
    name: 'offers-input',
    title: 'device.offers input',
    description: 'Subscribes to offers and cancel requests; lastEventId resumes after that event.',
    schema: OffersInput,
    io: 'input',
  },
  {
    name: 'device-event',
    title: 'device.offers event: DeviceEvent',
    description: 'An offer to install, or a request to stop working on one.',
    schema: DeviceEvent,
    io: 'output',
  },
  {
    name: 'report-input',
    title: 'device.report input',
    description: 'How an attempt is going: progress, or its outcome.',
    schema: ReportInput,
    io: 'input',
  },
  {
    name: 'report-result',
    title: 'device.report output: ReportResult',
    description: "The delivery's state after the report; duplicate when it repeated one already applied.",
    schema: ReportResult,
    io: 'output',
  },
  {
    name: 'artifact-url-input',
    title: 'device.artifactUrl input',
    description: "Asks for a fresh download URL for the artifact of the device's current attempt.",
    schema: ArtifactUrlInput,
    io: 'input',
  },
  {
    name: 'artifact-url',
    title: 'device.artifactUrl output: ArtifactUrl',
    description: 'A download URL (presigned by the object store, or the pod’s own) and when it expires.',
    schema: ArtifactUrl,
    io: 'output',
  },
  {
    name: 'device-credential',
    title: 'device.enroll output: DeviceCredential',
    description: "The device's own secret, shown this once.",
    schema: DeviceCredential,
    io: 'output',
  },
  {
    name: 'wire-error',
    title: 'Error',
    description: 'An error as the server formats it, inside the envelope of an error frame.',
    schema: WireError,
    io: 'output',
  },
  // Device → server
  {
    name: 'connection-params',
    title: 'connectionParams message',
    description: `${SENT} The first frame on the socket: the credentials (a device secret, or an enrollment token).`,
    schema: ConnectionParamsMessage,
    io: 'input',
  },
  {
    name: 'register-request',
    title: 'device.register request',
    description: SENT,
    schema: RegisterRequest,
    io: 'input',
  },
  {
    name: 'offers-request',
    title: 'device.offers subscribe request',
    description: SENT,
    schema: OffersRequest,
    io: 'input',
  },
  {
    name: 'report-request',
    title: 'device.report request',
    description: SENT,
    schema: ReportRequest,
    io: 'input',
  },
  {
    name: 'artifact-url-request',
    title: 'device.artifactUrl request',
    description: SENT,
    schema: ArtifactUrlRequest,
    io: 'input',
  },
  {
    name: 'enroll-request',
    title: 'device.enroll request',
    description: `${SENT} Only on a connection opened with an enrollment token.`,
    schema: EnrollRequest,
    io: 'input',
  },
  {
    name: 'subscription-stop',
    title: 'subscription.stop',
    description: `${SENT} Ends the subscription with this id.`,
    schema: SubscriptionStop,
    io: 'input',
  },
  {
    name: 'request-batch',
    title: 'Batch of requests',
    description: `${SENT} Several requests in one frame, as tRPC clients send them; each is answered apart.`,
    schema: RequestBatch,
    io: 'input',
  },
  {
    name: 'client-frame',
    title: 'Any frame a device sends',
    description: `${SENT} Any of the JSON frames above (the keepalive text frames aside).`,
    schema: ClientFrame,
    io: 'input',
  },
  // Keepalive, both ways
  {
    name: 'ping',
    title: 'PING',
    description:
      'Keepalive, sent by either side after a quiet while: a text frame, not JSON, whose text is PING.',
    schema: Ping,
    io: 'output',
  },
  {
    name: 'pong',
    title: 'PONG',
    description: 'The answer to PING, from either side: a text frame, not JSON, whose text is PONG.',
    schema: Pong,
    io: 'output',
  },
  // Server → device
  {
    name: 'register-response',
    title: 'device.register result',
    description: RECEIVED,
    schema: RegisterResponse,
    io: 'output',
  },
  {
    name: 'report-response',
    title: 'device.report result',
    description: RECEIVED,
    schema: ReportResponse,
    io: 'output',
  },
  {
    name: 'artifact-url-response',
    title: 'device.artifactUrl result',
    description: RECEIVED,
    schema: ArtifactUrlResponse,
    io: 'output',
  },
  {
    name: 'enroll-response',
    title: 'device.enroll result',
    description: RECEIVED,
    schema: EnrollResponse,
    io: 'output',
  },
  {
    name: 'subscription-started',
    title: 'Subscription started',
    description: `${RECEIVED} The subscription is open; its events follow.`,
    schema: SubscriptionStarted,
    io: 'output',
  },
  {
    name: 'offers-event',
    title: 'device.offers event',
    description: `${RECEIVED} One event of the subscription, its id in result.id and again in json.id.`,
    schema: OffersEvent,
    io: 'output',
  },
  {
    name: 'subscription-stopped',
    title: 'Subscription stopped',
    description: `${RECEIVED} The subscription ended (stopped by the client, or after its error).`,
    schema: SubscriptionStopped,
    io: 'output',
  },
  {
    name: 'error-response',
    title: 'Error frame',
    description: `${RECEIVED} A failed request (its id), or an error of the connection itself (id null).`,
    schema: ErrorResponse,
    io: 'output',
  },
  {
    name: 'reconnect-notice',
    title: 'Reconnect notice',
    description: `${RECEIVED} The pod is about to drain: connect again, to another pod.`,
    schema: ReconnectNotice,
    io: 'output',
  },
  {
    name: 'server-frame',
    title: 'Any frame the server sends',
    description: `${RECEIVED} Any of the JSON frames above (the keepalive text frames aside).`,
    schema: ServerFrame,
    io: 'output',
  },
] as const satisfies readonly ProtocolSchema[];

export type ProtocolSchemaName = (typeof PROTOCOL_SCHEMAS)[number]['name'];

export function schemaFileName(name: string): string {
  return `${name}.schema.json`;
}

export function schemaUri(name: string): string {
  return `${SCHEMA_BASE_URI}${schemaFileName(name)}`;
}

/** The JSON Schema of one protocol file, keys in a stable order. */
export function protocolJsonSchema(entry: ProtocolSchema): JsonSchema {
  const generated = zodJsonSchema(entry.schema, { io: entry.io, where: schemaFileName(entry.name) });
  const { $schema, description, ...rest } = generated;
  return canonical({
    $schema,
    $id: schemaUri(entry.name),
    title: entry.title,
    description: description ? `${entry.description} ${description}` : entry.description,
    ...rest,
  }) as JsonSchema;
}

/** Every schema file: file name → its text. */
export function protocolSchemaFiles(): Map<string, string> {
  return new Map(
    PROTOCOL_SCHEMAS.map((entry) => [schemaFileName(entry.name), jsonText(protocolJsonSchema(entry))]),
  );
}
