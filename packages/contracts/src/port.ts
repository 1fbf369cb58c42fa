import type { AdminRole } from './roles.js';
import type {
  AuditEntry,
  AuditInput,
  CreateEnrollTokenInput,
  CreateTokenInput,
  DeviceCredential,
  EnrollTokenInfo,
  IssuedEnrollToken,
  IssuedToken,
  ProvisionInput,
  TokenInfo,
} from './routers/access.schema.js';
import type {
  Device,
  DeviceEvent,
  RegisterInput,
  ReportInput,
  ReportResult,
} from './routers/device.schema.js';
import type { DeviceDetail, DevicePage, FleetStats, ListDevicesInput } from './routers/devices.schema.js';
import type { EventsInput, FleetEvent } from './routers/events.schema.js';
import type { Patch, PatchDetail, PublishPatchInput } from './routers/patch.schema.js';
import type { CreateRolloutInput, RolloutStatus } from './routers/rollout.schema.js';

/** Who is calling. Admin roles are ordered: viewer < operator < admin (roles.ts). */
export type { AdminRole };
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'admin'; name: string; role: AdminRole }
  | { kind: 'device'; deviceId: string }
  /** Connected with an enrollment token: may only enroll (`enrollTokenId` null for the configured token). */
  | { kind: 'enrollee'; deviceId: string; enrollTokenId: string | null };

/** The live connection a call arrived on (WebSocket), if any. */
export interface ConnectionRef {
  connectionId: string;
  /** Subscriptions open on this connection, and how many it may have. */
  subscriptions: { open: number; max: number };
}

export interface OffersOptions {
  connection: ConnectionRef;
  /** Offer id the client saw last (tRPC tracked events); skip re-sending exactly that offer. */
  lastEventId: string | null;
  signal: AbortSignal;
}

/**
 * Everything the router needs from the fleet. The server implements it on Redis;
 * tests may implement it however they like. Domain failures are thrown as FleetError.
 */
export interface FleetService {
  registerDevice(deviceId: string, connection: ConnectionRef | null, input: RegisterInput): Promise<Device>;
  /** Events for one device: its current offer first, then offers and cancel requests, until the signal aborts. */
  deviceOffers(deviceId: string, options: OffersOptions): AsyncIterable<DeviceEvent>;
  report(deviceId: string, input: ReportInput): Promise<ReportResult>;

  publishPatch(input: PublishPatchInput, actor: string): Promise<Patch>;
  listPatches(limit: number): Promise<Patch[]>;
  getPatch(patchId: string): Promise<PatchDetail>;
  deletePatch(patchId: string, actor: string): Promise<{ patchId: string; deleted: true }>;

  createRollout(input: CreateRolloutInput, actor: string): Promise<RolloutStatus>;
  listRollouts(limit: number): Promise<RolloutStatus[]>;
  /** The newest rollouts now, then again whenever one of them changes. */
  watchRollouts(limit: number, intervalMs: number, signal: AbortSignal): AsyncIterable<RolloutStatus[]>;
  getRollout(rolloutId: string): Promise<RolloutStatus>;
  /** Status snapshots, each one different from the last, until the signal aborts. */
  watchRollout(rolloutId: string, intervalMs: number, signal: AbortSignal): AsyncIterable<RolloutStatus>;
  cancelRollout(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus>;
  pauseRollout(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus>;
  resumeRollout(rolloutId: string, actor: string): Promise<RolloutStatus>;
  /** Opens the next wave now, whatever its gate. */
  advanceRollout(rolloutId: string, actor: string): Promise<RolloutStatus>;

  /** Stored events, oldest first: the newest `limit`, or those after `after`. */
  listEvents(input: EventsInput): Promise<FleetEvent[]>;
  /** Events as they happen (after `after`, if given), until the signal aborts. */
  followEvents(options: {
    rolloutId: string | null;
    after: string | null;
    signal: AbortSignal;
  }): AsyncIterable<FleetEvent>;

  listDevices(input: ListDevicesInput): Promise<DevicePage>;

  /** Trades an enrollment for the device's own credential; refused if the id already has one. */
  enrollDevice(deviceId: string, enrollTokenId: string | null): Promise<DeviceCredential>;
  provisionDevice(input: ProvisionInput, actor: string): Promise<DeviceCredential>;
  rotateDevice(deviceId: string, actor: string): Promise<DeviceCredential>;
  /** From now on the device is refused; its open connection closes within a second. */
  revokeDevice(deviceId: string, actor: string): Promise<{ deviceId: string; revoked: true }>;
  createToken(input: CreateTokenInput, actor: string): Promise<IssuedToken>;
  listTokens(): Promise<TokenInfo[]>;
  revokeToken(id: string, actor: string): Promise<TokenInfo>;
  createEnrollToken(input: CreateEnrollTokenInput, actor: string): Promise<IssuedEnrollToken>;
  listEnrollTokens(): Promise<EnrollTokenInfo[]>;
  revokeEnrollToken(id: string, actor: string): Promise<EnrollTokenInfo>;
  /** Appends to the audit log (every mutating admin call). */
  recordAudit(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;
  listAudit(input: AuditInput): Promise<AuditEntry[]>;
  getDevice(deviceId: string): Promise<DeviceDetail>;
  stats(): Promise<FleetStats>;
  /** Fleet figures now, then again whenever they change. */
  watchStats(intervalMs: number, signal: AbortSignal): AsyncIterable<FleetStats>;
}

export interface FleetContext {
  principal: Principal;
  fleet: FleetService;
  /** Set for calls that arrive over a WebSocket connection. */
  connection: ConnectionRef | null;
}
