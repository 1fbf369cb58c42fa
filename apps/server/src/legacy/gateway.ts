import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { DeviceId } from '@camfleet/contracts';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Authenticator } from '../auth.js';
import type { LegacyConfig } from '../config.js';
import type { Connections } from '../connections.js';
import type { RedisFleet } from '../fleet/fleet.js';
import type { HintBus } from '../fleet/hints.js';
import { endRefusedUpgrade, pathOf } from '../http/respond.js';
import { takeOverDevice } from '../ws-context.js';
import { LegacyCamera } from './camera.js';

/** Legacy frames are small JSON answers; anything bigger is not one. */
const MAX_FRAME_BYTES = 16 * 1024;

export interface LegacyGatewayDeps {
  config: LegacyConfig;
  fleet: RedisFleet;
  auth: Authenticator;
  connections: Connections;
  hints: HintBus;
  /** This pod instance: a camera's older connection elsewhere is closed through a hint. */
  instance: string;
  log: Logger;
}

/** Why an upgrade was refused, as an HTTP status (the original had no auth, so no WebSocket close codes). */
class Refused extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The original system's device endpoint, `/ws/<device_id>`, on the pods' port: plain WebSocket,
 * JSON text frames, no credential. Off unless FLEET_LEGACY_PROTOCOL=on; then limited to the ids of
 * FLEET_LEGACY_DEVICE_IDS and/or cameras sending FLEET_LEGACY_TOKEN as `?token=`. An id with a
 * credential of its own is refused: it is a typed camera's.
 */
export class LegacyGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  constructor(private readonly deps: LegacyGatewayDeps) {}

  /** Takes over an HTTP upgrade for `/ws/<pathId>`: a legacy camera, or a clear HTTP refusal. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pathId: string): Promise<void> {
    try {
      const deviceId = this.admit(req, pathId);
      const { previous } = await this.deps.auth.legacyDevice(deviceId).catch((error: unknown) => {
        throw new Refused(
          403,
          error instanceof Error && 'reason' in error ? String(error.reason) : 'refused',
        );
      });
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const camera = new LegacyCamera(
          { fleet: this.deps.fleet, patchPath: this.deps.config.patchPath, log: this.deps.log },
          deviceId,
          ws,
        );
        const { connectionId } = camera.connection;
        // A frame over the limit or a broken socket: ws closes it (1009, 1002); without a listener the
        // error would take the pod down.
        ws.on('error', (err) =>
          this.deps.log.info({ deviceId, err: err.message }, 'legacy connection error'),
        );
        this.deps.connections.guard(ws);
        this.deps.connections.add(connectionId, ws, { kind: 'device', deviceId });
        // One connection per camera, the newest wins, as for typed cameras.
        void takeOverDevice(this.deps, deviceId, connectionId, previous).catch(() => undefined);
        ws.once('close', () => {
          this.deps.fleet.devices
            .disconnected(deviceId, connectionId)
            .catch((err: unknown) => this.deps.log.warn({ err, deviceId }, 'disconnect not recorded'));
        });
        camera.serve().catch((err: unknown) => {
          this.deps.log.warn({ err, deviceId }, 'legacy camera dropped');
          ws.close(1011, 'server error');
        });
      });
    } catch (error) {
      const refusal = error instanceof Refused ? error : new Refused(400, 'bad request');
      this.deps.log.info(
        { status: refusal.status, reason: refusal.message, path: pathOf(req) },
        'legacy connection refused',
      );
      endRefusedUpgrade(
        socket,
        `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${refusal.message}\n`,
      );
    }
  }

  /** The device id of the path (decoded by the router), if the configuration lets it in. */
  private admit(req: IncomingMessage, pathId: string): string {
    const { config } = this.deps;
    if (!config.protocol) throw new Refused(404, 'the legacy device protocol is off (FLEET_LEGACY_PROTOCOL)');
    const url = new URL(req.url ?? '/', 'http://camfleet');
    const id = DeviceId.safeParse(pathId);
    if (!id.success) throw new Refused(400, 'malformed device id');
    if (config.deviceIds && !config.deviceIds.has(id.data))
      throw new Refused(403, 'device id not on the legacy allow-list');
    if (config.token !== null && !sameText(url.searchParams.get('token') ?? '', config.token))
      throw new Refused(401, 'missing or wrong legacy token');
    return id.data;
  }

  close(): void {
    for (const ws of this.wss.clients) ws.close(1012, 'shutting down');
  }
}

const STATUS_TEXT = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' } as const;

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
