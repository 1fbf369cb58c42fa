import { randomUUID } from 'node:crypto';
import {
  type ConnectionRef,
  type DeviceEvent,
  LegacyAnswer,
  type LegacyUpdate,
  type LegacyUpdateFrame,
  type Offer,
} from '@camfleet/contracts';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { RedisFleet } from '../fleet/fleet.js';
import { deviceFrom } from '../fleet/records.js';

/** Updates a camera may still answer (it answers in order, and at most one is in flight). */
const REMEMBERED_UPDATES = 16;

export interface LegacyCameraDeps {
  fleet: RedisFleet;
  /** Where a patch without an uploaded artifact lives for legacy cameras: `<patchPath>/<name>`. */
  patchPath: string;
  log: Logger;
}

interface SentUpdate {
  update: LegacyUpdate;
  deliveryId: string;
  attempt: number;
  version: string;
}

/**
 * One camera on the original protocol, mapped onto the delivery state machine: registered with
 * `protocol=legacy`, its offers sent as `{"update": …}` frames, its `success`/`failed` answers
 * reported for the delivery whose update they echo. Anything else it sends is logged and ignored.
 */
export class LegacyCamera {
  readonly connection: ConnectionRef = { connectionId: randomUUID(), subscriptions: { open: 1, max: 1 } };
  private readonly sent: SentUpdate[] = [];
  private readonly stop = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly deps: LegacyCameraDeps,
    readonly deviceId: string,
    private readonly ws: WebSocket,
  ) {
    this.log = deps.log.child({ deviceId, connectionId: this.connection.connectionId, protocol: 'legacy' });
  }

  /** Registers the camera and serves it until its socket closes. */
  async serve(): Promise<void> {
    this.ws.on('message', (data, isBinary) => {
      void this.answer(isBinary ? null : data.toString());
    });
    this.ws.once('close', () => this.stop.abort());
    // It reports no version: keep the one camfleet knows (a success sets it), so registering does not
    // make an installed patch look missing.
    // One read of the device record (not its deliveries and history).
    const { redis, keys } = this.deps.fleet.deps;
    const hash = await redis.hgetall(keys.device(this.deviceId));
    const known = hash.id ? deviceFrom(hash) : null;
    await this.deps.fleet.devices.register(this.deviceId, this.connection, {
      model: known?.model ?? 'legacy',
      firmwareVersion: known?.firmwareVersion ?? 'unknown',
      labels: { ...known?.labels, protocol: 'legacy' },
    });
    const events = this.deps.fleet.devices.offers(this.deviceId, {
      connection: this.connection,
      lastEventId: null,
      signal: this.stop.signal,
    });
    for await (const event of events) this.send(event);
  }

  private send(event: DeviceEvent): void {
    if (event.type !== 'offer') {
      // The original protocol has no way to stop an install: the camera reports its real outcome.
      this.log.info(
        { deliveryId: event.deliveryId, attempt: event.attempt },
        'cancel not sent: legacy cameras cannot stop',
      );
      return;
    }
    const frame: LegacyUpdateFrame = { update: this.remember(event.offer).update };
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** The update for an offer: the same frame (timestamp included) when an attempt is sent again. */
  private remember(offer: Offer): SentUpdate {
    const again = this.sent.find((s) => s.deliveryId === offer.deliveryId && s.attempt === offer.attempt);
    if (again) return again;
    const sent: SentUpdate = {
      update: {
        patch_file: offer.patch.name,
        patch_path: offer.patch.artifact?.url ?? `${this.deps.patchPath}/${offer.patch.name}`,
        timestamp: Date.now() / 1000,
      },
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
      version: offer.patch.version,
    };
    this.sent.push(sent);
    if (this.sent.length > REMEMBERED_UPDATES) this.sent.shift();
    return sent;
  }

  private async answer(text: string | null): Promise<void> {
    let parsed: unknown;
    try {
      parsed = text === null ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    const answer = LegacyAnswer.safeParse(parsed);
    if (!answer.success) {
      this.log.info(
        { frame: (text ?? '<binary>').slice(0, 200) },
        'legacy frame ignored: not an answer to an update',
      );
      return;
    }
    const { status, device_id: claimed, update } = answer.data;
    if (claimed !== this.deviceId) {
      this.log.info({ claimed }, 'legacy answer ignored: it names another device');
      return;
    }
    const sent = this.sent.find(
      (s) => s.update.patch_file === update.patch_file && s.update.timestamp === update.timestamp,
    );
    if (!sent) {
      this.log.info({ update }, 'legacy answer ignored: unknown or stale update');
      return;
    }
    try {
      await this.deps.fleet.devices.report(this.deviceId, {
        deliveryId: sent.deliveryId,
        attempt: sent.attempt,
        ...(status === 'success'
          ? { status: 'succeeded', firmwareVersion: sent.version }
          : { status: 'failed', error: 'the camera answered "failed"' }),
      });
    } catch (error) {
      // A stale attempt (it timed out and was offered again) or a finished delivery: nothing to do.
      this.log.info(
        { err: error instanceof Error ? error.message : String(error), deliveryId: sent.deliveryId },
        'legacy answer not applied',
      );
    }
  }
}
