import {
  type ConnectionRef,
  type Device,
  type DeviceEvent,
  FleetError,
  type OffersOptions,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
} from '@camfleet/contracts';
import { parseReply, runScript } from '../redis/scripts.js';
import { type FleetDeps, runDurable, throwPipelineErrors, unwrap } from './deps.js';
import { deliveryIdOf, offerFrom, parseDeliveryId } from './records.js';
import { type DeviceSession, DeviceSessions } from './sessions.js';
import type { ClaimOutcome, Slots } from './slots.js';
import { TickBatch } from './tick-batch.js';

/** Devices per batched script call (claims, reconcile): a few ms of Redis time, so other clients are not held up. */
const BATCH = 100;
/** Reports of progress, not of an outcome: they need not wait for replicas. */
const PROGRESS_REPORTS: ReadonlySet<string> = new Set(['downloading', 'installing']);
/** Repaired devices named in the session reconcile's log line. */
const LOGGED_REPAIRS = 20;

/** The device side: registration, presence, pushed offers and cancel requests, reports. */
export class DeviceChannel {
  readonly sessions = new DeviceSessions();
  /**
   * Devices to evaluate at the end of this turn of the event loop, in one evaluateMany: a connect or
   * reconnect storm subscribes thousands, one claim call per bucket and 100 instead of one each.
   */
  private readonly soon = new TickBatch<string>((deviceIds) => void this.evaluateMany(deviceIds));
  /** Rollouts whose gates the controller should look at: one ZADD a turn, not one per delivery. */
  private readonly gateChecks = new TickBatch<string>((rolloutIds) => {
    this.deps.redis
      .zadd(this.deps.keys.evalQueue, ...rolloutIds.flatMap((id) => [0, id]))
      .catch((err: unknown) =>
        this.deps.log.warn({ err }, 'gate check not queued (the fallback re-check finds it)'),
      );
  });

  constructor(
    private readonly deps: FleetDeps,
    private readonly slots: Slots,
  ) {
    slots.onRetry((deviceId, grantedRollout) => this.evaluate(deviceId, grantedRollout));
  }

  private bucketArgs(deviceId: string): [string, string] {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    return [this.deps.keys.due(bucket), bucket];
  }

  async registerDevice(
    deviceId: string,
    connection: ConnectionRef | null,
    input: RegisterInput,
  ): Promise<Device> {
    const reply = (await runScript(
      this.deps.redis,
      'device_register',
      ...this.bucketArgs(deviceId),
      deviceId,
      input.model,
      input.firmwareVersion,
      JSON.stringify(input.labels),
      connection ? this.deps.instance : '',
      connection?.connectionId ?? '',
      this.deps.hintGraceMs,
    )) as [number, number, number, string, number, string, string, string];
    const [firstSeenAt, lastSeenAt, online, node, offerable, leftRollout, slot, finalState] = reply;
    if (leftRollout) await this.afterDelivery(leftRollout, deviceId, slot, finalState || 'queued');
    if (offerable === 1) this.soon.add(deviceId);
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

  async *deviceOffers(deviceId: string, options: OffersOptions): AsyncGenerator<DeviceEvent> {
    const connectionId = options.connection.connectionId;
    const session = this.sessions.open(deviceId, connectionId, options.lastEventId);
    // No logger child per subscription: thousands of idle devices would each carry one.
    const debug = this.deps.log.isLevelEnabled('debug');
    try {
      this.soon.add(deviceId);
      for await (const event of session.events(options.signal)) {
        this.deps.metrics.offersSent.inc({ type: event.type });
        const [deliveryId, attempt] =
          event.type === 'offer'
            ? [event.offer.deliveryId, event.offer.attempt]
            : [event.deliveryId, event.attempt];
        if (debug)
          this.deps.log.debug(
            { deviceId, connectionId, deliveryId, attempt },
            event.type === 'offer' ? 'offer pushed' : 'cancel pushed',
          );
        yield event;
      }
    } finally {
      this.sessions.close(session);
    }
  }

  /** The device's connection closed: offline, unless a newer connection already holds it. */
  async deviceDisconnected(deviceId: string, connectionId: string): Promise<void> {
    // Not forgotten from the slot waiting list here: this may be an old connection closing after a
    // newer one parked the device. A retry finds out by itself whether a session is still here.
    this.sessions.markGone(deviceId, connectionId);
    await runScript(
      this.deps.redis,
      'device_disconnect',
      ...this.bucketArgs(deviceId),
      deviceId,
      connectionId,
      this.deps.hintGraceMs,
    );
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
    const args = [
      ...this.bucketArgs(deviceId),
      deviceId,
      ids.rolloutId,
      input.attempt,
      input.status,
      input.error ?? '',
      this.deps.hintGraceMs,
      input.firmwareVersion ?? '',
    ];
    const reply = parseReply(
      // Outcomes must survive a failover; progress may be lost (the device reports it again).
      PROGRESS_REPORTS.has(input.status)
        ? await runScript(this.deps.redis, 'delivery_report', ...args)
        : await runDurable(this.deps, 'delivery_report', ...args),
    );
    const [state, attempt, duplicate, offerable, slot] = unwrap(reply, `report for ${input.deliveryId}`) as [
      ReportResult['state'],
      number,
      number,
      number,
      string,
    ];
    if (duplicate === 0) await this.afterDelivery(ids.rolloutId, deviceId, slot, state);
    if (offerable === 1) void this.evaluate(deviceId);
    return { deliveryId: input.deliveryId, attempt, state, duplicate: duplicate === 1 };
  }

  /**
   * Follow-ups of a delivery transition: renew or release a limited rollout's slot, and ask the
   * controller to look at the rollout's gates when a delivery left flight.
   */
  async afterDelivery(rolloutId: string, deviceId: string, slot: string, state: string): Promise<void> {
    const inFlight =
      state === 'offered' || state === 'downloading' || state === 'installing' || state === 'verifying';
    if (slot === 'hold' || slot === 'release') {
      await this.slots.release(rolloutId, deviceId, slot, state === 'succeeded' ? 'succeeded' : '');
    }
    if (!inFlight) this.gateChecks.add(rolloutId);
  }

  /**
   * Sends the device whatever it should have now, if its subscription is on this pod. Claims for
   * one device never overlap; a request during a claim runs one more pass after it. `grant` names
   * a rollout whose slot this pod already acquired for the device. Never rejects.
   */
  async evaluate(deviceId: string, grant = ''): Promise<ClaimOutcome> {
    const session = this.sessions.get(deviceId);
    if (!session) {
      // Not connected here: the slot cannot be used (a reconnect un-parks the device's work).
      if (grant) await this.slots.release(grant, deviceId, 'release').catch(() => undefined);
      return 'none';
    }
    if (session.evaluating) {
      // The running pass takes one more turn, with the slot: it may just have parked the device,
      // and a parked delivery starts only with a slot in hand (dropping it here left the device
      // parked, off the waiting list, with a slot free).
      session.again = true;
      if (grant && session.grant !== grant) {
        const older = session.grant;
        session.grant = grant;
        if (older) await this.slots.release(older, deviceId, 'release').catch(() => undefined);
      }
      return 'none';
    }
    session.evaluating = true;
    let outcome: ClaimOutcome = 'none';
    try {
      do {
        session.again = false;
        session.passes++;
        const slot = grant || session.grant;
        grant = '';
        session.grant = '';
        outcome = await this.claim(session, slot);
      } while (session.again);
    } catch (error) {
      // Redis unavailable or similar: the sweeper hints this device again once it is due, and the
      // session reconcile finds it if it was left parked.
      this.deps.log.warn({ err: error, deviceId }, 'offer claim failed');
    } finally {
      session.evaluating = false;
    }
    if (session.grant) {
      // A slot handed over while the last pass failed: give it back, and wait for another.
      const unused = session.grant;
      session.grant = '';
      this.slots.wait(unused, deviceId);
      await this.slots.release(unused, deviceId, 'release').catch(() => undefined);
    }
    return outcome;
  }

  /** One claim, getting a slot first when the next delivery's rollout is limited. */
  private async claim(session: DeviceSession, granted: string): Promise<ClaimOutcome> {
    const deviceId = session.deviceId;
    let grant = granted;
    for (;;) {
      const reply = (await runScript(
        this.deps.redis,
        'offer_claim',
        ...this.bucketArgs(deviceId),
        deviceId,
        this.deps.hintGraceMs,
        grant,
        session.connectionId,
      )) as [string, ...unknown[]];
      const kind = reply[0];
      if (kind === 'SLOT') {
        const rolloutId = String(reply[1]);
        if (grant) {
          // The slot we hold was not used (the device's next delivery changed meanwhile).
          await this.slots.release(grant, deviceId, 'release');
          if (grant === rolloutId) return 'none';
        }
        // SLOT means the delivery is queued, so a slot the device still held is stale: use it.
        const { granted, retryAfterMs } = await this.slots.acquire(rolloutId, deviceId);
        if (!granted) {
          await this.slots.park(rolloutId, deviceId, session.connectionId, retryAfterMs);
          return 'blocked';
        }
        grant = rolloutId;
        continue;
      }
      const offered = kind === 'OFFER' ? String(reply[1]) : '';
      if (grant && grant !== offered) await this.slots.release(grant, deviceId, 'release');
      return this.deliver(session, reply);
    }
  }

  /** Pushes what a claim answered (an offer or a cancel request) to the device's session. */
  private deliver(session: DeviceSession, reply: [string, ...unknown[]]): ClaimOutcome {
    const deviceId = session.deviceId;
    if (reply[0] === 'OFFER') {
      const offer = offerFrom(deviceId, reply.slice(1));
      this.slots.forget(deviceId, offer.rolloutId);
      session.push({ type: 'offer', offer });
      return 'offered';
    }
    if (reply[0] === 'CANCEL') {
      const deliveryId = deliveryIdOf(String(reply[1]), deviceId);
      session.push({ type: 'cancel', deliveryId, attempt: Number(reply[2]), reason: 'rollout stopped' });
    }
    return 'none';
  }

  /**
   * evaluate() for many devices at once (a rollout's fan-out, a broadcast, a batch of hints): the
   * idle sessions here are claimed with one offer_claim_many call per bucket and chunk instead of a
   * round trip each. A device with a claim running or a slot in hand, or whose next delivery needs a
   * slot, goes through evaluate(). Never rejects.
   */
  async evaluateMany(deviceIds: readonly string[]): Promise<void> {
    const idle: DeviceSession[] = [];
    for (const deviceId of deviceIds) {
      const session = this.sessions.get(deviceId);
      // Already in a batch claim (a slow fan-out, and the sweeper re-hinting what it has not
      // reached yet): a pass more per device would double the work just when it is scarce. The
      // due set re-hints the device if the batch missed what this hint was about.
      if (session?.batched) continue;
      if (!session || session.evaluating || session.grant) {
        void this.evaluate(deviceId);
        continue;
      }
      session.evaluating = true;
      session.batched = true;
      session.passes++;
      idle.push(session);
    }
    await Promise.all(this.batches(idle).map((batch) => this.claimMany(batch)));
  }

  /** Sessions grouped by their device's bucket, at most BATCH per group: one script call each. */
  private batches(sessions: readonly DeviceSession[]): DeviceSession[][] {
    const byBucket = new Map<string, DeviceSession[]>();
    for (const session of sessions) {
      const bucket = this.deps.keys.bucketOfDevice(session.deviceId);
      const group = byBucket.get(bucket) ?? [];
      group.push(session);
      byBucket.set(bucket, group);
    }
    const batches: DeviceSession[][] = [];
    for (const group of byBucket.values())
      for (let i = 0; i < group.length; i += BATCH) batches.push(group.slice(i, i + BATCH));
    return batches;
  }

  /** One offer_claim_many call for sessions of one bucket; their claims are marked running. */
  private async claimMany(sessions: DeviceSession[]): Promise<void> {
    const first = sessions[0];
    if (!first) return;
    let replies: [string, ...unknown[]][] = [];
    try {
      replies = (await runScript(
        this.deps.redis,
        'offer_claim_many',
        ...this.bucketArgs(first.deviceId),
        this.deps.hintGraceMs,
        ...sessions.flatMap((s) => [s.deviceId, s.connectionId]),
      )) as [string, ...unknown[]][];
    } catch (error) {
      // As in evaluate(): the sweeper hints these devices again once they are due.
      this.deps.log.warn({ err: error, devices: sessions.length }, 'offer claims failed');
    }
    sessions.forEach((session, i) => {
      session.evaluating = false;
      session.batched = false;
      const reply = replies[i];
      // A limited rollout's slot is got by the one-device path, as is a pass asked for meanwhile.
      const slotNeeded = reply?.[0] === 'SLOT';
      if (reply && !slotNeeded) this.deliver(session, reply);
      if (slotNeeded || session.again || session.grant) void this.evaluate(session.deviceId);
    });
  }

  /**
   * The artifact (sha256) of the device's current attempt, if one is in flight: the only bytes it
   * may download.
   */
  async offeredArtifact(deviceId: string): Promise<string | null> {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    const active = await this.deps.redis.hget(this.deps.keys.device(deviceId), 'active');
    if (!active) return null;
    // Both in one round trip: a fleet downloading at once asks this once per request.
    const [state, artifact] = throwPipelineErrors(
      await this.deps.redis
        .pipeline()
        .hget(this.deps.keys.delivery(active, deviceId), 'state')
        .hget(`${bucket}ro:${active}`, 'artifact')
        .exec(),
    ) as [string | null, string | null];
    if (state !== 'offered' && state !== 'downloading' && state !== 'installing') return null;
    return artifact ? (JSON.parse(artifact) as { sha256: string }).sha256 : null;
  }

  /**
   * Marks every device held here online again (after this pod was wrongly reaped), then offers:
   * the session reconcile does exactly that, a bucket and 100 devices per call.
   */
  async reassertPresence(): Promise<void> {
    await this.reconcile();
  }

  /**
   * Safety net, per pod and proportional to its own sessions: every device whose connection is
   * open here must be online on that connection in Redis (a lost reassert hint or a reaping race
   * can leave it offline), and a delivery of it parked for a slot must be on this pod's waiting
   * list (else nothing would ever retry it). Returns how many devices needed repair.
   */
  async reconcile(): Promise<number> {
    // Checked in the same tick as the calls: a close after them queues its disconnect behind them.
    const live = this.sessions
      .deviceIds()
      .map((deviceId) => this.sessions.get(deviceId))
      .filter((session): session is DeviceSession => session !== undefined && !session.gone);
    let repaired = 0;
    const adopted = new Set<string>();
    const restoredWithWork: string[] = [];
    const fixed: { deviceId: string; restored: boolean; parked: string }[] = [];
    await Promise.all(
      this.batches(live).map(async (batch) => {
        const before = batch.map((session) => [session.evaluating, session.passes] as const);
        const replies = (await runScript(
          this.deps.redis,
          'device_reconcile',
          ...this.bucketArgs(batch[0]?.deviceId ?? ''),
          this.deps.instance,
          this.deps.hintGraceMs,
          ...batch.flatMap((session) => [session.deviceId, session.connectionId]),
        )) as [number, number, string][];
        batch.forEach((session, i) => {
          const [restored, offerable, parked] = replies[i] ?? [0, 0, ''];
          const [wasEvaluating, passes] = before[i] ?? [false, 0];
          const deviceId = session.deviceId;
          // Parked by a claim here, a device is on the waiting list or a claim pass for it runs (a
          // retry hands it from one to the other at once); neither, before or after: it is a stray.
          const claiming = wasEvaluating || session.evaluating || session.passes !== passes;
          const stray = parked !== '' && !claiming && !this.slots.isWaiting(parked, deviceId);
          if (restored === 1 || stray) {
            repaired++;
            if (fixed.length < LOGGED_REPAIRS)
              fixed.push({ deviceId, restored: restored === 1, parked: stray ? parked : '' });
          }
          if (stray) {
            this.slots.wait(parked, deviceId);
            adopted.add(parked);
          }
          if (offerable === 1) restoredWithWork.push(deviceId);
        });
      }),
    );
    // One line a pass (a reaped pod restores thousands at once), naming the first few devices.
    if (repaired > 0)
      this.deps.log.warn({ repaired, devices: fixed }, 'session reconcile repaired connected devices');
    await this.evaluateMany(restoredWithWork);
    for (const rolloutId of adopted) await this.slots.retry(rolloutId);
    return repaired;
  }

  /** Evaluates every device held here (a broadcast: work may have appeared for many). */
  async evaluateAll(): Promise<void> {
    await this.evaluateMany(this.sessions.deviceIds());
  }
}
