import { z } from 'zod';
import {
  DeliveryId,
  DeliveryState,
  PatchId,
  RolloutId,
  StoredDeviceId,
  safeText,
  Timestamp,
} from '../schemas.js';
import { Device } from './device.schema.js';
import { RolloutTarget, SelectorText } from './rollout.schema.js';

export const ListDevicesInput = z
  .object({
    cursor: safeText(300).nullish(),
    limit: z.number().int().min(1).max(1000).default(100),
    online: z.boolean().optional(),
    /** Only devices whose labels (and model) match, in the rollouts' selector syntax. */
    selector: SelectorText.optional(),
  })
  .default({ limit: 100 });
export type ListDevicesInput = z.infer<typeof ListDevicesInput>;

export const WatchStatsInput = z
  .object({ intervalMs: z.number().int().min(250).max(60_000).default(1_000) })
  .default({ intervalMs: 1_000 });

export const DevicePage = z.object({
  devices: z.array(Device),
  /** Pass back to get the next page; null on the last one. */
  nextCursor: z.string().nullable(),
});
export type DevicePage = z.infer<typeof DevicePage>;

export const Delivery = z.object({
  deliveryId: DeliveryId,
  rolloutId: RolloutId,
  deviceId: StoredDeviceId,
  patchId: PatchId,
  state: DeliveryState,
  /** Offers made so far; reports must name the current one. */
  attempt: z.number().int().nonnegative(),
  /** Failed or timed-out attempts, counted against maxAttempts. */
  failures: z.number().int().nonnegative(),
  maxAttempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  /** When a retry waiting for backoff becomes due. */
  retryAt: Timestamp.nullable(),
});
export type Delivery = z.infer<typeof Delivery>;

export const HistoryEntry = z.object({
  at: Timestamp,
  rolloutId: RolloutId,
  attempt: z.number().int(),
  from: DeliveryState.nullable(),
  to: DeliveryState,
  error: z.string().nullable(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const DeviceDetail = z.object({
  device: Device,
  deliveries: z.array(Delivery),
  /** Newest first, bounded. */
  history: z.array(HistoryEntry),
});
export type DeviceDetail = z.infer<typeof DeviceDetail>;

/** Names an existing device: ids stored by older versions (with `:`) too, to inspect or revoke them. */
export const DeviceIdInput = z.object({ deviceId: StoredDeviceId });

export const CheckIdsInput = z
  .object({
    /** Report at most this many bad ids (the scan still counts them all). */
    limit: z.number().int().min(1).max(10_000).default(1000),
  })
  .default({ limit: 1000 });
export type CheckIdsInput = z.infer<typeof CheckIdsInput>;

/**
 * Stored device ids checked against today's rule (`DeviceId`): ids an older version accepted (with
 * `:`) cannot authenticate an artifact download; they are listed, with why, to be re-provisioned.
 */
export const IdCheck = z.object({
  /** Device ids read from the index. */
  checked: z.number().int().nonnegative(),
  /** How many break the rule (may exceed `bad.length`). */
  badCount: z.number().int().nonnegative(),
  /** As stored (may hold anything; printed escaped), with the rule they break. */
  bad: z.array(z.object({ deviceId: z.string(), problem: z.string() })),
});
export type IdCheck = z.infer<typeof IdCheck>;

export const FleetStats = z.object({
  devices: z.number().int().nonnegative(),
  online: z.number().int().nonnegative(),
  patches: z.number().int().nonnegative(),
  rollouts: z.number().int().nonnegative(),
  nodes: z.array(z.object({ node: z.string(), devices: z.number().int().nonnegative() })),
});
export type FleetStats = z.infer<typeof FleetStats>;

/** Devices the Overview reads at most: up to this many, every figure comes from the one scan. */
export const OVERVIEW_SCAN = 1000;

/** A row of a breakdown: the devices with this model (or firmware), and how many are online. */
export const FleetTally = z.object({
  name: z.string(),
  devices: z.number().int().nonnegative(),
  online: z.number().int().nonnegative(),
});
export type FleetTally = z.infer<typeof FleetTally>;

/**
 * The Overview's figures from one read, so they add up: a fleet of up to OVERVIEW_SCAN devices is
 * read whole, and totals, breakdowns and pods all come from that one scan. A larger fleet's totals
 * are its counters, its breakdowns those of the first OVERVIEW_SCAN devices (`sampled`).
 */
export const FleetOverview = z.object({
  devices: z.number().int().nonnegative(),
  online: z.number().int().nonnegative(),
  patches: z.number().int().nonnegative(),
  rollouts: z.number().int().nonnegative(),
  perModel: z.array(FleetTally),
  perFirmware: z.array(FleetTally),
  /** Online devices per pod instance holding them. */
  perPod: z.array(z.object({ node: z.string(), devices: z.number().int().nonnegative() })),
  /** How many devices the breakdowns cover when the fleet is larger than one scan; null: all. */
  sampled: z.number().int().nonnegative().nullable(),
});
export type FleetOverview = z.infer<typeof FleetOverview>;

/** Devices a target preview reads at most; a larger fleet's counts are scaled up from them. */
export const PREVIEW_SCAN = 5000;
/** Devices a preview shows by name. */
export const PREVIEW_SAMPLE = 10;
/** Unknown ids a preview of a device list names (it counts them all). */
export const PREVIEW_UNKNOWN = 20;

export const PreviewTargetInput = z.object({ target: RolloutTarget });
export type PreviewTargetInput = z.infer<typeof PreviewTargetInput>;

/**
 * What a rollout's target names now, before it is created (`rollout.preview`): how many devices,
 * how many online, their firmware and a few by name. Nothing is stored. A selector over a fleet
 * larger than PREVIEW_SCAN is matched against the first PREVIEW_SCAN devices of the buckets (a fair
 * sample: devices are placed in buckets by a hash of their id) and its counts scaled up (`exact: false`).
 */
export const TargetPreview = z.object({
  matched: z.number().int().nonnegative(),
  online: z.number().int().nonnegative(),
  offline: z.number().int().nonnegative(),
  /** False when matched/online are scaled up from a sample of the fleet. */
  exact: z.boolean(),
  /** Devices read to answer. */
  scanned: z.number().int().nonnegative(),
  /** Devices in the fleet. */
  fleet: z.number().int().nonnegative(),
  /** A device list's ids that name no device (the first PREVIEW_UNKNOWN, and how many); null for a selector or all. */
  unknown: z.object({ count: z.number().int().nonnegative(), ids: z.array(z.string()) }).nullable(),
  /** The matching devices read, per firmware version (what the rollout would replace). */
  perFirmware: z.array(FleetTally),
  /** The first matching devices read. */
  sample: z.array(Device),
});
export type TargetPreview = z.infer<typeof TargetPreview>;

/** The device inventory, as operators see it. */
export interface InventoryService {
  list(input: ListDevicesInput): Promise<DevicePage>;
  get(deviceId: string): Promise<DeviceDetail>;
  stats(): Promise<FleetStats>;
  /** The Overview's figures, from one read (FleetOverview). */
  overview(): Promise<FleetOverview>;
  /** What a rollout's target would name now (TargetPreview). */
  preview(target: RolloutTarget): Promise<TargetPreview>;
  /** Fleet figures now, then again whenever they change. */
  watchStats(intervalMs: number, signal: AbortSignal): AsyncIterable<FleetStats>;
  /** Stored device ids that break today's id rule: every bucket's index read in batches (admin check). */
  checkIds(input: CheckIdsInput): Promise<IdCheck>;
}
