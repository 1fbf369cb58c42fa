import {
  type CheckIdsInput,
  type Device,
  type DeviceDetail,
  DeviceId,
  type DevicePage,
  FleetError,
  type FleetOverview,
  type FleetStats,
  type FleetTally,
  type IdCheck,
  type InventoryService,
  type ListDevicesInput,
  matchesSelector,
  OVERVIEW_SCAN,
  PREVIEW_SAMPLE,
  PREVIEW_SCAN,
  PREVIEW_UNKNOWN,
  parseSelector,
  type RolloutTarget,
  type TargetPreview,
} from '@camfleet/contracts';
import type { FleetDeps } from './deps.js';
import { SharedWatches, whenChanged } from './live-views.js';
import { archivedRecords, deliveryFrom, deviceFrom, historyOf } from './records.js';

/** Read-only views of devices for operators. */
export class Inventory implements InventoryService {
  /** The fleet figures' read loop, shared by every watcher on this pod. */
  private readonly watches = new SharedWatches();

  constructor(private readonly deps: FleetDeps) {}

  async list(input: ListDevicesInput): Promise<DevicePage> {
    const [startBucket, afterId] = parseCursor(input.cursor ?? null, this.deps.keys.allBuckets.length);
    const selector = input.selector ? parseSelector(input.selector) : null;
    const wanted = (device: Device) =>
      (input.online === undefined || device.online === input.online) &&
      (!selector || matchesSelector(selector, device.labels, device.model));
    const devices: Device[] = [];
    for (let n = startBucket; n < this.deps.keys.allBuckets.length; n++) {
      let after = n === startBucket ? afterId : '';
      for (;;) {
        const want = input.limit - devices.length;
        const ids = await this.deps.redis.zrangebylex(
          this.deps.keys.bucket(n).key('devices'),
          after ? `(${after}` : '-',
          '+',
          'LIMIT',
          0,
          want,
        );
        if (ids.length === 0) break;
        const hashes = await Promise.all(ids.map((id) => this.deps.redis.hgetall(this.deps.keys.device(id))));
        for (const hash of hashes) {
          if (!hash.id) continue;
          const device = deviceFrom(hash);
          if (wanted(device)) devices.push(device);
        }
        after = ids[ids.length - 1] ?? after;
        if (devices.length >= input.limit) return { devices, nextCursor: `${n}/${after}` };
        if (ids.length < want) break;
      }
    }
    return { devices, nextCursor: null };
  }

  async get(deviceId: string): Promise<DeviceDetail> {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    const { redis } = this.deps;
    const [hash, rolloutIds, history, archive] = await Promise.all([
      redis.hgetall(bucket.key('device', deviceId)),
      redis.zrange(bucket.key('deviceDeliveries', deviceId), 0, '-1'),
      redis.lrange(bucket.key('history', deviceId), 0, -1),
      redis.get(bucket.key('archive', deviceId)),
    ]);
    if (!hash.id) throw new FleetError('NOT_FOUND', `no device ${deviceId}`);
    const finished = await Promise.all(
      [...archivedRecords(archive, deviceId)].map(
        async ([rolloutId, compacted]): Promise<Record<string, string>> => {
          const rollout = bucket.key('rollout', rolloutId);
          const [patchId, maxAttempts] = await redis.hmget(rollout, 'patchId', 'maxAttempts');
          return { ...compacted, patchId: patchId ?? '', maxAttempts: maxAttempts ?? '0' };
        },
      ),
    );
    const open = await Promise.all(
      rolloutIds.map((rolloutId) => redis.hgetall(bucket.key('delivery', rolloutId, deviceId))),
    );
    // Oldest first, as the rollouts came.
    const records = [...finished, ...open.filter((d) => d.rid)].sort(
      (a, b) => Number(a.createdAt) - Number(b.createdAt),
    );
    return {
      device: deviceFrom(hash),
      deliveries: records.map(deliveryFrom),
      history: historyOf(records, history),
    };
  }

  /**
   * The Overview's figures from one read: up to OVERVIEW_SCAN devices, every figure is counted from
   * one scan (a scan reads each bucket's devices once, so two figures cannot disagree); beyond, the
   * totals are the counters and the breakdowns the first OVERVIEW_SCAN devices'.
   */
  async overview(): Promise<FleetOverview> {
    const [stats, read] = await Promise.all([this.stats(), this.scan(OVERVIEW_SCAN)]);
    const whole = read.complete;
    const scanned = read.devices;
    const online = scanned.filter((device) => device.online);
    const pods = new Map<string, number>();
    for (const device of online) if (device.node) pods.set(device.node, (pods.get(device.node) ?? 0) + 1);
    return {
      devices: whole ? scanned.length : stats.devices,
      online: whole ? online.length : stats.online,
      patches: stats.patches,
      rollouts: stats.rollouts,
      perModel: tallyBy(scanned, (device) => device.model),
      perFirmware: tallyBy(scanned, (device) => device.firmwareVersion),
      perPod: whole
        ? [...pods].map(([node, devices]) => ({ node, devices })).sort((a, b) => a.node.localeCompare(b.node))
        : stats.nodes,
      sampled: whole ? null : scanned.length,
    };
  }

  /**
   * What a rollout's target would name now. A device list is looked up id by id; `all` and a
   * selector read the buckets in order up to PREVIEW_SCAN devices (buckets hold devices by a hash
   * of the id, so a partial read is a fair sample), and past that a selector's counts are scaled up
   * to the fleet while `all` takes the counters.
   */
  async preview(target: RolloutTarget): Promise<TargetPreview> {
    const stats = await this.stats();
    if (target.kind === 'devices') return this.previewIds(target.deviceIds, stats.devices);
    const selector = target.kind === 'selector' ? parseSelector(target.selector) : null;
    const read = await this.scan(PREVIEW_SCAN);
    const matched = selector
      ? read.devices.filter((device) => matchesSelector(selector, device.labels, device.model))
      : read.devices;
    const onlineRead = matched.filter((device) => device.online).length;
    const scaled = (n: number) => Math.round((n * stats.devices) / Math.max(1, read.devices.length));
    const counts = read.complete
      ? { matched: matched.length, online: onlineRead }
      : selector
        ? { matched: scaled(matched.length), online: scaled(onlineRead) }
        : { matched: stats.devices, online: stats.online };
    return {
      ...counts,
      offline: counts.matched - counts.online,
      exact: read.complete || !selector,
      scanned: read.devices.length,
      fleet: read.complete ? read.devices.length : stats.devices,
      unknown: null,
      perFirmware: tallyBy(matched, (device) => device.firmwareVersion),
      sample: matched.slice(0, PREVIEW_SAMPLE),
    };
  }

  private async previewIds(deviceIds: readonly string[], fleet: number): Promise<TargetPreview> {
    const hashes = await Promise.all(
      deviceIds.map((id) => this.deps.redis.hgetall(this.deps.keys.device(id))),
    );
    const known = hashes.filter((hash) => hash.id).map(deviceFrom);
    const unknown = deviceIds.filter((_, i) => !hashes[i]?.id);
    const online = known.filter((device) => device.online).length;
    return {
      matched: known.length,
      online,
      offline: known.length - online,
      exact: true,
      scanned: deviceIds.length,
      fleet,
      unknown: { count: unknown.length, ids: unknown.slice(0, PREVIEW_UNKNOWN) },
      perFirmware: tallyBy(known, (device) => device.firmwareVersion),
      sample: known.slice(0, PREVIEW_SAMPLE),
    };
  }

  /** Up to `limit` devices, bucket after bucket; `complete` when that was every device. */
  private async scan(limit: number): Promise<{ devices: Device[]; complete: boolean }> {
    const page = await this.list({ limit });
    return { devices: page.devices, complete: page.nextCursor === null };
  }

  /**
   * Fleet figures from sizes and counts, never from the devices themselves: two counts per bucket,
   * the live pod instances and the devices each says it holds. The same cost for any fleet size.
   */
  async stats(): Promise<FleetStats> {
    const { redis, keys } = this.deps;
    const [patches, rollouts, live, held, ...perBucket] = await Promise.all([
      redis.zcard(keys.patches),
      redis.zcard(keys.rollouts),
      redis.zrange(keys.nodes, '0', '-1'),
      redis.hgetall(keys.nodeDevices),
      ...keys.allBuckets.flatMap((bucket) => [
        redis.zcard(bucket.key('devices')),
        redis.hlen(bucket.key('online')),
      ]),
    ]);
    let devices = 0;
    let online = 0;
    for (let i = 0; i < perBucket.length; i += 2) {
      devices += perBucket[i] ?? 0;
      online += perBucket[i + 1] ?? 0;
    }
    return {
      devices,
      online,
      patches,
      rollouts,
      nodes: live
        .map((node) => ({ node, devices: Number(held[node] ?? 0) }))
        .sort((a, b) => a.node.localeCompare(b.node)),
    };
  }

  /**
   * Every stored device id checked against today's rule (`DeviceId`): each bucket's device index
   * read in batches of ID_CHECK_BATCH by lexical range (no KEYS, no whole-set read). A one-off
   * admin check, proportional to the fleet; nothing runs it on a timer.
   */
  async checkIds(input: CheckIdsInput): Promise<IdCheck> {
    const result: IdCheck = { checked: 0, badCount: 0, bad: [] };
    for (const bucket of this.deps.keys.allBuckets) {
      let after = '';
      for (;;) {
        const ids = await this.deps.redis.zrangebylex(
          bucket.key('devices'),
          after ? `(${after}` : '-',
          '+',
          'LIMIT',
          0,
          ID_CHECK_BATCH,
        );
        result.checked += ids.length;
        for (const id of ids) {
          const problem = deviceIdProblem(id);
          if (problem === null) continue;
          result.badCount++;
          if (result.bad.length < input.limit) result.bad.push({ deviceId: id, problem });
        }
        if (ids.length < ID_CHECK_BATCH) break;
        after = ids[ids.length - 1] ?? after;
      }
    }
    return result;
  }

  /** Fleet figures, read once a tick by one loop per pod for all its watchers. */
  watchStats(intervalMs: number, signal: AbortSignal): AsyncGenerator<FleetStats> {
    return this.watches.watch(
      `stats:${intervalMs}`,
      (stop) =>
        whenChanged(
          () => this.stats(),
          (stats) => JSON.stringify(stats),
          intervalMs,
          stop,
        ),
      signal,
    );
  }
}

const ID_CHECK_BATCH = 1000;

/** Why a stored id breaks today's rule, in words; null when it keeps it. */
export function deviceIdProblem(id: string): string | null {
  if (DeviceId.safeParse(id).success) return null;
  if (id.includes(':') && DeviceId.safeParse(id.replaceAll(':', '-')).success) {
    return "':' is not allowed (it cannot authenticate: Device <id>:<secret>); re-provision under a new id";
  }
  return `not a device id: ${DeviceId.safeParse(id).error?.issues[0]?.message ?? 'invalid'}`;
}

function parseCursor(cursor: string | null, buckets: number): [number, string] {
  if (!cursor) return [0, ''];
  const slash = cursor.indexOf('/');
  const bucket = Number(cursor.slice(0, slash));
  if (slash < 0 || !Number.isInteger(bucket) || bucket < 0 || bucket >= buckets) {
    throw new FleetError('INVALID_INPUT', `not a device cursor: ${cursor}`);
  }
  return [bucket, cursor.slice(slash + 1)];
}

/** Devices and devices online per value of `key`, most devices first. */
function tallyBy(devices: readonly Device[], key: (device: Device) => string): FleetTally[] {
  const by = new Map<string, FleetTally>();
  for (const device of devices) {
    const name = key(device);
    const row = by.get(name) ?? { name, devices: 0, online: 0 };
    row.devices++;
    if (device.online) row.online++;
    by.set(name, row);
  }
  return [...by.values()].sort((a, b) => b.devices - a.devices || a.name.localeCompare(b.name));
}
