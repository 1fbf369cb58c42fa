import { randomBytes } from 'node:crypto';
import {
  type ConnectionRef,
  type CreateRolloutInput,
  type Device,
  type DeviceDetail,
  type DevicePage,
  FleetError,
  type FleetErrorCode,
  type FleetService,
  type FleetStats,
  isFleetErrorCode,
  type ListDevicesInput,
  type Offer,
  type OffersOptions,
  type Patch,
  type PublishPatchInput,
  type RegisterInput,
  type ReportInput,
  type ReportResult,
  type RolloutStatus,
} from '@camfleet/contracts';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ALL_BUCKETS, BUCKET_COUNT, type KeySpace } from '../redis/keys.js';
import { parseReply, queueScript, runScript, type ScriptReply } from '../redis/scripts.js';
import type { HintBus } from './hints.js';
import {
  addCounts,
  deliveryFrom,
  deviceFrom,
  emptyCounts,
  historyFrom,
  offerFrom,
  parseDeliveryId,
  patchFrom,
  rolloutFrom,
} from './records.js';
import { type DeviceSession, DeviceSessions } from './sessions.js';

export interface RedisFleetOptions {
  redis: Redis;
  keys: KeySpace;
  /** This pod instance (node id + boot id): what presence and hints name. */
  instance: string;
  log: Logger;
  /** How long an offerable device may wait for its pod before the sweeper hints again. */
  hintGraceMs: number;
}

const randomId = (): string => randomBytes(10).toString('hex');

function unwrap(reply: ScriptReply, context: string): unknown[] {
  if (reply.ok) return reply.values;
  const code: FleetErrorCode = isFleetErrorCode(reply.code) ? reply.code : 'CONFLICT';
  throw new FleetError(code, `${context}: ${reply.message}`);
}

/** The FleetService port on Redis: every state change is one Lua script. */
export class RedisFleetService implements FleetService {
  readonly sessions = new DeviceSessions();
  private hints: HintBus | null = null;
  private readonly redis: Redis;
  private readonly keys: KeySpace;
  private readonly grace: number;

  constructor(private readonly options: RedisFleetOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.grace = options.hintGraceMs;
  }

  attachHints(hints: HintBus): void {
    this.hints = hints;
  }

  // ── devices ────────────────────────────────────────────────────────────────

  async registerDevice(
    deviceId: string,
    connection: ConnectionRef | null,
    input: RegisterInput,
  ): Promise<Device> {
    const bucket = this.keys.bucketOfDevice(deviceId);
    const reply = (await runScript(
      this.redis,
      'device_register',
      this.keys.due(bucket),
      bucket,
      deviceId,
      input.model,
      input.firmwareVersion,
      JSON.stringify(input.labels),
      connection ? this.options.instance : '',
      connection?.connectionId ?? '',
      this.grace,
    )) as [number, number, number, string, number];
    const [firstSeenAt, lastSeenAt, online, node, offerable] = reply;
    if (offerable === 1) this.evaluate(deviceId);
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
      this.evaluate(deviceId);
      yield* session.offers(options.signal);
    } finally {
      this.sessions.close(session);
    }
  }

  /** The device's connection closed: offline, unless a newer connection already holds it. */
  async deviceDisconnected(deviceId: string, connectionId: string): Promise<void> {
    const bucket = this.keys.bucketOfDevice(deviceId);
    await runScript(
      this.redis,
      'device_disconnect',
      this.keys.due(bucket),
      bucket,
      deviceId,
      connectionId,
      this.grace,
    );
  }

  async report(deviceId: string, input: ReportInput): Promise<ReportResult> {
    const ids = parseDeliveryId(input.deliveryId);
    if (!ids) throw new FleetError('NOT_FOUND', `no delivery ${input.deliveryId}`);
    if (ids.deviceId !== deviceId)
      throw new FleetError('FORBIDDEN', 'a device reports only its own deliveries');
    const bucket = this.keys.bucketOfDevice(deviceId);
    const reply = parseReply(
      await runScript(
        this.redis,
        'delivery_report',
        this.keys.due(bucket),
        bucket,
        deviceId,
        ids.rolloutId,
        input.attempt,
        input.status,
        input.error ?? '',
        this.grace,
      ),
    );
    const [state, attempt, duplicate, offerable] = unwrap(reply, `report for ${input.deliveryId}`) as [
      ReportResult['state'],
      number,
      number,
      number,
    ];
    if (offerable === 1) this.evaluate(deviceId);
    return { deliveryId: input.deliveryId, attempt, state, duplicate: duplicate === 1 };
  }

  /**
   * Offers the device whatever it should have now, if its subscription is on this pod. Claims for
   * one device never overlap; a request during a claim runs one more pass after it.
   */
  evaluate(deviceId: string): void {
    const session = this.sessions.get(deviceId);
    if (!session) return;
    if (session.evaluating) {
      session.again = true;
      return;
    }
    session.evaluating = true;
    void this.claimLoop(session);
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
      this.options.log.warn({ err: error, deviceId: session.deviceId }, 'offer claim failed');
    } finally {
      session.evaluating = false;
    }
  }

  private async claim(deviceId: string): Promise<Offer | null> {
    const bucket = this.keys.bucketOfDevice(deviceId);
    const reply = (await runScript(
      this.redis,
      'offer_claim',
      this.keys.due(bucket),
      bucket,
      deviceId,
      this.grace,
    )) as unknown[];
    return reply.length === 0 ? null : offerFrom(deviceId, reply);
  }

  /** Evaluates every device held here, in batches (auto-pipelined into few round trips). */
  async evaluateAll(batchSize = 500): Promise<void> {
    const ids = this.sessions.deviceIds();
    for (let i = 0; i < ids.length; i += batchSize) {
      await Promise.all(ids.slice(i, i + batchSize).map((id) => this.claimNow(id)));
    }
  }

  private async claimNow(deviceId: string): Promise<void> {
    const session = this.sessions.get(deviceId);
    if (!session) return;
    if (session.evaluating) {
      session.again = true;
      return;
    }
    session.evaluating = true;
    await this.claimLoop(session);
  }

  // ── patches ────────────────────────────────────────────────────────────────

  async publishPatch(input: PublishPatchInput, actor: string): Promise<Patch> {
    const id = `pat_${randomId()}`;
    const reply = parseReply(
      await runScript(
        this.redis,
        'patch_publish',
        this.keys.patch(id),
        this.keys.patches,
        this.keys.patchNames,
        id,
        input.name,
        input.version,
        input.notes,
        actor,
      ),
    );
    const [createdAt] = unwrap(reply, 'publish') as [number];
    return {
      id,
      name: input.name,
      version: input.version,
      notes: input.notes,
      artifact: null,
      createdAt,
      createdBy: actor,
    };
  }

  async listPatches(limit: number): Promise<Patch[]> {
    const ids = await this.redis.zrevrange(this.keys.patches, 0, limit - 1);
    const hashes = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.patch(id))));
    return hashes.filter((h) => h.id).map(patchFrom);
  }

  async getPatch(patchId: string): Promise<Patch> {
    const hash = await this.redis.hgetall(this.keys.patch(patchId));
    if (!hash.id) throw new FleetError('NOT_FOUND', `no patch ${patchId}`);
    return patchFrom(hash);
  }

  // ── rollouts ───────────────────────────────────────────────────────────────

  async createRollout(input: CreateRolloutInput, actor: string): Promise<RolloutStatus> {
    const id = `ro_${randomId()}`;
    const reply = parseReply(
      await runScript(
        this.redis,
        'rollout_create',
        this.keys.patch(input.patchId),
        this.keys.rollout(id),
        this.keys.rollouts,
        this.keys.rolloutSeq,
        this.keys.attaching,
        id,
        JSON.stringify(input.target),
        input.ackTimeoutMs,
        input.maxAttempts,
        input.retryBackoff.baseMs,
        input.retryBackoff.maxMs,
        actor,
      ),
    );
    unwrap(reply, `patch ${input.patchId}`);
    await this.attachRollout(id);
    await this.hints?.broadcast();
    return this.getRollout(id);
  }

  /** Brings a rollout into every bucket (idempotent), then clears its attaching mark. */
  async attachRollout(rolloutId: string): Promise<void> {
    const hash = await this.redis.hgetall(this.keys.rollout(rolloutId));
    if (!hash.id) return;
    const pipeline = this.redis.pipeline();
    for (const n of ALL_BUCKETS) {
      const bucket = this.keys.bucket(n);
      queueScript(
        pipeline,
        'rollout_attach',
        this.keys.due(bucket),
        bucket,
        rolloutId,
        hash.seq ?? '0',
        hash.patchId ?? '',
        hash.name ?? '',
        hash.version ?? '',
        hash.notes ?? '',
        hash.artifact ?? '',
        hash.ackTimeoutMs ?? '60000',
        hash.maxAttempts ?? '5',
        hash.backoffBaseMs ?? '2000',
        hash.backoffMaxMs ?? '60000',
        this.grace,
      );
    }
    throwPipelineErrors(await pipeline.exec());
    await this.redis.srem(this.keys.attaching, rolloutId);
  }

  async cancelRollout(rolloutId: string, actor: string): Promise<RolloutStatus> {
    const reply = parseReply(
      await runScript(this.redis, 'rollout_cancel', this.keys.rollout(rolloutId), actor),
    );
    unwrap(reply, `rollout ${rolloutId}`);
    const pipeline = this.redis.pipeline();
    for (const n of ALL_BUCKETS) {
      const bucket = this.keys.bucket(n);
      queueScript(pipeline, 'rollout_cancel_bucket', this.keys.due(bucket), bucket, rolloutId, this.grace);
    }
    throwPipelineErrors(await pipeline.exec());
    // Devices whose active delivery was canceled may have other work now.
    await this.hints?.broadcast();
    return this.getRollout(rolloutId);
  }

  async getRollout(rolloutId: string): Promise<RolloutStatus> {
    const pipeline = this.redis.pipeline().hgetall(this.keys.rollout(rolloutId));
    for (const n of ALL_BUCKETS) pipeline.hgetall(this.keys.rolloutCounts(n, rolloutId));
    const results = throwPipelineErrors(await pipeline.exec()) as Record<string, string>[];
    const [hash, ...buckets] = results;
    if (!hash?.id) throw new FleetError('NOT_FOUND', `no rollout ${rolloutId}`);
    const counts = emptyCounts();
    for (const bucketCounts of buckets) addCounts(counts, bucketCounts);
    const rollout = rolloutFrom(hash);
    const targeted = Object.values(counts).reduce((a, b) => a + b, 0);
    const open = counts.queued + counts.offered + counts.downloading + counts.installing;
    const status = rollout.canceledAt ? 'canceled' : open === 0 && targeted > 0 ? 'completed' : 'active';
    return { ...rollout, status, targeted, counts };
  }

  async listRollouts(limit: number): Promise<RolloutStatus[]> {
    const ids = await this.redis.zrevrange(this.keys.rollouts, 0, limit - 1);
    return Promise.all(ids.map((id) => this.getRollout(id)));
  }

  async *watchRollout(
    rolloutId: string,
    intervalMs: number,
    signal: AbortSignal,
  ): AsyncGenerator<RolloutStatus> {
    let last = '';
    while (!signal.aborted) {
      const status = await this.getRollout(rolloutId);
      const fingerprint = `${status.status}|${JSON.stringify(status.counts)}`;
      if (fingerprint !== last) {
        last = fingerprint;
        yield status;
      }
      await sleep(intervalMs, signal);
    }
  }

  // ── inventory ──────────────────────────────────────────────────────────────

  async listDevices(input: ListDevicesInput): Promise<DevicePage> {
    const [startBucket, afterId] = parseCursor(input.cursor ?? null);
    const devices: Device[] = [];
    for (let n = startBucket; n < BUCKET_COUNT; n++) {
      let after = n === startBucket ? afterId : '';
      for (;;) {
        const want = input.limit - devices.length;
        const ids = await this.redis.zrangebylex(
          this.keys.bucketDevices(n),
          after ? `(${after}` : '-',
          '+',
          'LIMIT',
          0,
          want,
        );
        if (ids.length === 0) break;
        const hashes = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.device(id))));
        for (const hash of hashes) {
          if (!hash.id) continue;
          const device = deviceFrom(hash);
          if (input.online === undefined || device.online === input.online) devices.push(device);
        }
        after = ids[ids.length - 1] ?? after;
        if (devices.length >= input.limit) return { devices, nextCursor: `${n}/${after}` };
        if (ids.length < want) break;
      }
    }
    return { devices, nextCursor: null };
  }

  async getDevice(deviceId: string): Promise<DeviceDetail> {
    const [hash, rolloutIds, history] = await Promise.all([
      this.redis.hgetall(this.keys.device(deviceId)),
      this.redis.zrange(this.keys.deviceDeliveries(deviceId), 0, '-1'),
      this.redis.lrange(this.keys.deviceHistory(deviceId), 0, -1),
    ]);
    if (!hash.id) throw new FleetError('NOT_FOUND', `no device ${deviceId}`);
    const deliveries = await Promise.all(
      rolloutIds.map((rolloutId) => this.redis.hgetall(this.keys.delivery(rolloutId, deviceId))),
    );
    return {
      device: deviceFrom(hash),
      deliveries: deliveries.filter((d) => d.rid).map(deliveryFrom),
      history: history.map(historyFrom),
    };
  }

  async stats(): Promise<FleetStats> {
    const pipeline = this.redis.pipeline().zcard(this.keys.patches).zcard(this.keys.rollouts);
    for (const n of ALL_BUCKETS) pipeline.zcard(this.keys.bucketDevices(n)).hvals(this.keys.bucketOnline(n));
    const [patches, rollouts, ...perBucket] = throwPipelineErrors(await pipeline.exec());
    let devices = 0;
    let online = 0;
    const byNode = new Map<string, number>();
    for (let i = 0; i < perBucket.length; i += 2) {
      devices += perBucket[i] as number;
      for (const node of perBucket[i + 1] as string[]) {
        online++;
        byNode.set(node, (byNode.get(node) ?? 0) + 1);
      }
    }
    return {
      devices,
      online,
      patches: patches as number,
      rollouts: rollouts as number,
      nodes: [...byNode]
        .map(([node, count]) => ({ node, devices: count }))
        .sort((a, b) => a.node.localeCompare(b.node)),
    };
  }
}

function parseCursor(cursor: string | null): [number, string] {
  if (!cursor) return [0, ''];
  const slash = cursor.indexOf('/');
  const bucket = Number(cursor.slice(0, slash));
  if (slash < 0 || !Number.isInteger(bucket) || bucket < 0 || bucket >= BUCKET_COUNT) {
    throw new FleetError('INVALID_INPUT', `not a device cursor: ${cursor}`);
  }
  return [bucket, cursor.slice(slash + 1)];
}

/** Pipeline results without their error slots; the first error is thrown. */
export function throwPipelineErrors(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('pipeline discarded');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
