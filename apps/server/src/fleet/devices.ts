import {
  type ConnectionRef,
  type Device,
  FleetError,
  type Offer,
  type OffersOptions,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
} from '@camfleet/contracts';
import { parseReply, runScript } from '../redis/scripts.js';
import { type FleetDeps, unwrap } from './deps.js';
import { offerFrom, parseDeliveryId } from './records.js';
import { type DeviceSession, DeviceSessions } from './sessions.js';

/** The device side: registration, presence, pushed offers and reports. */
export class DeviceChannel {
  readonly sessions = new DeviceSessions();

  constructor(private readonly deps: FleetDeps) {}

  async registerDevice(
    deviceId: string,
    connection: ConnectionRef | null,
    input: RegisterInput,
  ): Promise<Device> {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    const reply = (await runScript(
      this.deps.redis,
      'device_register',
      this.deps.keys.due(bucket),
      bucket,
      deviceId,
      input.model,
      input.firmwareVersion,
      JSON.stringify(input.labels),
      connection ? this.deps.instance : '',
      connection?.connectionId ?? '',
      this.deps.hintGraceMs,
    )) as [number, number, number, string, number];
    const [firstSeenAt, lastSeenAt, online, node, offerable] = reply;
    if (offerable === 1) void this.evaluate(deviceId);
    return {
      id: deviceId,
      model: input.model,
      firmwareVersion: input.firmwareVersion,
      labels: input.labels,
      firstSeenAt,
      lastSeenAt,
      online: online === 1,
      node: node || null,
    };
  }

  async *deviceOffers(deviceId: string, options: OffersOptions): AsyncGenerator<Offer> {
    const session = this.sessions.open(deviceId, options.connection.connectionId, options.lastEventId);
    try {
      void this.evaluate(deviceId);
      yield* session.offers(options.signal);
    } finally {
      this.sessions.close(session);
    }
  }

  /** The device's connection closed: offline, unless a newer connection already holds it. */
  async deviceDisconnected(deviceId: string, connectionId: string): Promise<void> {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    await runScript(
      this.deps.redis,
      'device_disconnect',
      this.deps.keys.due(bucket),
      bucket,
      deviceId,
      connectionId,
      this.deps.hintGraceMs,
    );
  }

  async report(deviceId: string, input: ReportInput): Promise<ReportResult> {
    const ids = parseDeliveryId(input.deliveryId);
    if (!ids) throw new FleetError('NOT_FOUND', `no delivery ${input.deliveryId}`);
    if (ids.deviceId !== deviceId)
      throw new FleetError('FORBIDDEN', 'a device reports only its own deliveries');
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'delivery_report',
        this.deps.keys.due(bucket),
        bucket,
        deviceId,
        ids.rolloutId,
        input.attempt,
        input.status,
        input.error ?? '',
        this.deps.hintGraceMs,
      ),
    );
    const [state, attempt, duplicate, offerable] = unwrap(reply, `report for ${input.deliveryId}`) as [
      ReportResult['state'],
      number,
      number,
      number,
    ];
    if (offerable === 1) void this.evaluate(deviceId);
    return { deliveryId: input.deliveryId, attempt, state, duplicate: duplicate === 1 };
  }

  /**
   * Offers the device whatever it should have now, if its subscription is on this pod. Claims for
   * one device never overlap; a request during a claim runs one more pass after it. Never rejects.
   */
  async evaluate(deviceId: string): Promise<void> {
    const session = this.sessions.get(deviceId);
    if (!session) return;
    if (session.evaluating) {
      session.again = true;
      return;
    }
    session.evaluating = true;
    await this.claimLoop(session);
  }

  private async claimLoop(session: DeviceSession): Promise<void> {
    try {
      do {
        session.again = false;
        const offer = await this.claim(session.deviceId);
        if (offer) session.push(offer);
      } while (session.again);
    } catch (error) {
      // Redis unavailable or similar: the sweeper hints this device again once it is due.
      this.deps.log.warn({ err: error, deviceId: session.deviceId }, 'offer claim failed');
    } finally {
      session.evaluating = false;
    }
  }

  private async claim(deviceId: string): Promise<Offer | null> {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    const reply = (await runScript(
      this.deps.redis,
      'offer_claim',
      this.deps.keys.due(bucket),
      bucket,
      deviceId,
      this.deps.hintGraceMs,
    )) as unknown[];
    return reply.length === 0 ? null : offerFrom(deviceId, reply);
  }

  /** Evaluates every device held here, in batches (auto-pipelined into few round trips). */
  async evaluateAll(batchSize = 500): Promise<void> {
    const ids = this.sessions.deviceIds();
    for (let i = 0; i < ids.length; i += batchSize) {
      await Promise.all(ids.slice(i, i + batchSize).map((id) => this.evaluate(id)));
    }
  }
}
