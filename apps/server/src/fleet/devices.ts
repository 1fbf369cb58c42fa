import {
  type ArtifactUrl,
  type ArtifactUrlInput,
  ClosingIterator,
  type ConnectionRef,
  type Device,
  type DeviceEvent,
  type DeviceService,
  FleetError,
  iteratorDone,
  type OffersOptions,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
} from '@camfleet/contracts';
import type { ArtifactLinks } from '../artifacts/links.js';
import {
  deliveryReport,
  deviceDisconnect,
  deviceRegister,
  type SlotFollowUp,
} from '../redis/scripts/index.js';
import type { OfferClaims } from './claims.js';
import type { FleetDeps } from './deps.js';
import { parseDeliveryId } from './ids.js';
import type { DeviceSession, DeviceSessions } from './sessions.js';
import type { Slots } from './slots.js';
import { TickBatch } from './tick-batch.js';
import { zoneInfo } from './zones.js';

/** Reports of progress, not of an outcome: they need not wait for replicas. */
const PROGRESS_REPORTS: ReadonlySet<string> = new Set(['downloading', 'installing']);
const IN_FLIGHT: ReadonlySet<string> = new Set(['offered', 'downloading', 'installing', 'verifying']);

/** The device side: registration, presence, pushed offers and cancel requests, reports. */
export class DeviceChannel implements DeviceService {
  /**
   * Devices to evaluate at the end of this turn of the event loop, in one evaluateMany: a connect or
   * reconnect storm subscribes thousands, one claim call per bucket and 100 instead of one each.
   */
  private readonly soon: TickBatch<string>;
  /** Rollouts whose gates the controller should look at: one ZADD a turn, not one per delivery. */
  private readonly gateChecks = new TickBatch<string>((rolloutIds) => {
    this.deps.redis
      .zadd(this.deps.keys.evalQueue, ...rolloutIds.flatMap((id) => [0, id]))
      .catch((err: unknown) =>
        this.deps.log.warn(
          { err },
          'gate check not queued (the next finish, or the fallback re-check while any is open, finds it)',
        ),
      );
  });

  constructor(
    private readonly deps: FleetDeps,
    private readonly sessions: DeviceSessions,
    private readonly slots: Slots,
    private readonly claims: OfferClaims,
    private readonly links: ArtifactLinks,
  ) {
    this.soon = new TickBatch<string>((deviceIds) => void claims.evaluateMany(deviceIds));
  }

  async register(deviceId: string, connection: ConnectionRef | null, input: RegisterInput): Promise<Device> {
    // Registering, not authenticating, makes a connection the device's: older ones are closed now.
    await connection?.takeOver?.();
    const reply = await this.deps.scripts.run(deviceRegister, {
      bucket: this.deps.keys.bucketOfDevice(deviceId),
      deviceId,
      model: input.model,
      firmwareVersion: input.firmwareVersion,
      labels: input.labels,
      instance: connection ? this.deps.instance : '',
      connectionId: connection?.connectionId ?? '',
      graceMs: this.deps.hintGraceMs,
      zone: zoneInfo(input.labels.tz, Date.now()),
    });
    if (reply.left)
      await this.afterDelivery(reply.left.rolloutId, deviceId, reply.left.slot, reply.left.state);
    if (reply.offerable) this.soon.add(deviceId);
    return {
      id: deviceId,
      model: input.model,
      firmwareVersion: input.firmwareVersion,
      labels: input.labels,
      firstSeenAt: reply.firstSeenAt,
      lastSeenAt: reply.lastSeenAt,
      online: reply.online,
      node: reply.node || null,
    };
  }

  /**
   * The device's pushed events, from its session on this pod. One plain iterator over the session's
   * drain (not a generator per layer): it opens the session on the first `next()` and closes it when
   * the events end (the signal aborted), fail, or the consumer returns.
   */
  offers(deviceId: string, options: OffersOptions): AsyncGenerator<DeviceEvent> {
    return new OfferStream(this, deviceId, options);
  }

  /** @internal OfferStream's start: the session, and a claim at the end of this turn. */
  openSession(deviceId: string, options: OffersOptions): DeviceSession {
    const session = this.sessions.open(deviceId, options.connection.connectionId, options.lastEventId);
    this.soon.add(deviceId);
    return session;
  }

  /** @internal */
  closeSession(session: DeviceSession): void {
    this.sessions.close(session);
  }

  /** @internal An event as it leaves: counted, logged at debug, an offer's URLs signed now. */
  leaving(session: DeviceSession, event: DeviceEvent): DeviceEvent | Promise<DeviceEvent> {
    this.deps.metrics.offersSent.inc({ type: event.type });
    // No logger child per subscription: thousands of idle devices would each carry one.
    if (this.deps.log.isLevelEnabled('debug')) {
      const [deliveryId, attempt] =
        event.type === 'offer'
          ? [event.offer.deliveryId, event.offer.attempt]
          : [event.deliveryId, event.attempt];
      this.deps.log.debug(
        { deviceId: session.deviceId, connectionId: session.connectionId, deliveryId, attempt },
        event.type === 'offer' ? 'offer pushed' : 'cancel pushed',
      );
    }
    if (event.type !== 'offer' || !this.links.presigning) return event;
    // Signed as it leaves, so the URL's lifetime starts when the device gets it.
    return this.links.forOffer(session.deviceId, event.offer).then((offer) => ({ ...event, offer }));
  }

  artifactUrl(deviceId: string, input: ArtifactUrlInput): Promise<ArtifactUrl> {
    return this.links.forAttempt(deviceId, input);
  }

  /** The device's connection closed: offline, unless a newer connection already holds it. */
  async disconnected(deviceId: string, connectionId: string): Promise<void> {
    // Not forgotten from the slot waiting list here: this may be an old connection closing after a
    // newer one parked the device. A retry finds out by itself whether a session is still here.
    this.sessions.markGone(deviceId, connectionId);
    await this.deps.scripts.run(deviceDisconnect, {
      bucket: this.deps.keys.bucketOfDevice(deviceId),
      deviceId,
      connectionId,
      graceMs: this.deps.hintGraceMs,
    });
  }

  async report(deviceId: string, input: ReportInput): Promise<ReportResult> {
    try {
      const result = await this.applyReport(deviceId, input);
      this.deps.metrics.reports.inc({
        status: input.status,
        outcome: result.duplicate ? 'duplicate' : 'accepted',
      });
      return result;
    } catch (error) {
      const outcome = error instanceof FleetError ? error.code : 'error';
      this.deps.metrics.reports.inc({ status: input.status, outcome });
      throw error;
    }
  }

  private async applyReport(deviceId: string, input: ReportInput): Promise<ReportResult> {
    const ids = parseDeliveryId(input.deliveryId);
    if (!ids) throw new FleetError('NOT_FOUND', `no delivery ${input.deliveryId}`);
    if (ids.deviceId !== deviceId)
      throw new FleetError('FORBIDDEN', 'a device reports only its own deliveries');
    const call = {
      bucket: this.deps.keys.bucketOfDevice(deviceId),
      deviceId,
      rolloutId: ids.rolloutId,
      report: input,
      graceMs: this.deps.hintGraceMs,
    };
    // Outcomes must survive a failover; progress may be lost (the device reports it again).
    const reply = PROGRESS_REPORTS.has(input.status)
      ? await this.deps.scripts.run(deliveryReport, call)
      : await this.deps.scripts.runDurable(deliveryReport, call);
    if (!reply.duplicate) await this.afterDelivery(ids.rolloutId, deviceId, reply.slot, reply.state);
    if (reply.offerable) void this.claims.evaluate(deviceId);
    return {
      deliveryId: input.deliveryId,
      attempt: reply.attempt,
      state: reply.state,
      duplicate: reply.duplicate,
    };
  }

  /**
   * Follow-ups of a delivery transition: renew or release a limited rollout's slot, and ask the
   * controller to look at the rollout's gates when a delivery left flight.
   */
  async afterDelivery(
    rolloutId: string,
    deviceId: string,
    slot: SlotFollowUp | string,
    state: string,
  ): Promise<void> {
    if (slot === 'hold' || slot === 'release') {
      await this.slots.release(rolloutId, deviceId, slot, state === 'succeeded' ? 'succeeded' : '');
    }
    if (!IN_FLIGHT.has(state)) this.gateChecks.add(rolloutId);
  }
}

/** DeviceChannel.offers' iterator: what the session's drain yields, as it leaves. */
class OfferStream extends ClosingIterator<DeviceEvent> {
  private session: DeviceSession | null = null;
  private events: AsyncGenerator<DeviceEvent> | null = null;
  private ended = false;

  constructor(
    private readonly channel: DeviceChannel,
    private readonly deviceId: string,
    private readonly options: OffersOptions,
  ) {
    super();
  }

  next(): Promise<IteratorResult<DeviceEvent, void>> {
    if (this.ended) return Promise.resolve(iteratorDone());
    let events = this.events;
    if (!events) {
      const session = this.channel.openSession(this.deviceId, this.options);
      this.session = session;
      events = this.events = session.events(this.options.signal);
    }
    return events.next().then((result) => {
      const session = this.session;
      if (result.done || !session) {
        this.close();
        return iteratorDone();
      }
      const event = this.channel.leaving(session, result.value);
      return event instanceof Promise
        ? event.then((value) => ({ value, done: false as const }), this.failed)
        : { value: event, done: false as const };
    }, this.failed);
  }

  private readonly failed = (cause: unknown): never => {
    this.close();
    throw cause;
  };

  private close(): void {
    this.ended = true;
    const session = this.session;
    this.session = null;
    if (session) this.channel.closeSession(session);
  }

  async return(): Promise<IteratorResult<DeviceEvent, void>> {
    const events = this.events;
    this.close();
    await events?.return(undefined);
    return iteratorDone();
  }
}
