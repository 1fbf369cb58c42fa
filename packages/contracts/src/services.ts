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
import type {
  CheckIdsInput,
  DeviceDetail,
  DevicePage,
  FleetStats,
  IdCheck,
  ListDevicesInput,
} from './routers/devices.schema.js';
import type { EventsInput, FleetEvent } from './routers/events.schema.js';
import type { Patch, PatchDetail, PublishPatchInput } from './routers/patch.schema.js';
import type { CreateRolloutInput, RolloutStatus } from './routers/rollout.schema.js';

export type { AdminRole };

/**
 * The domain services the router calls, one per router domain: a procedure validates its input,
 * checks the caller's role and calls its service on `ctx.fleet` (`ctx.fleet.rollouts.create(...)`).
 * The server implements them on Redis; tests may implement them however they like. Domain failures
 * are thrown as FleetError.
 */

/** Who is calling. Admin roles are ordered: viewer < operator < admin (roles.ts). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'admin'; name: string; role: AdminRole }
  | { kind: 'device'; deviceId: string }
  /** Connected with an enrollment token: may only enroll (`enrollTokenId` null for the configured token). */
  | { kind: 'enrollee'; deviceId: string; enrollTokenId: string | null };

/** The live connection a call arrived on (WebSocket), if any. */
/** Places for subscriptions: how many are open, how many may be. */
export interface SubscriptionPlaces {
  open: number;
  max: number;
}

export interface ConnectionRef {
  connectionId: string;
  /** Subscriptions open on this connection, and how many it may have. */
  subscriptions: SubscriptionPlaces;
  /**
   * Subscriptions open on this pod by the same principal (an admin token, a device) across all its
   * connections: one object shared by them. Absent where one connection is all a principal has.
   */
  principalSubscriptions?: SubscriptionPlaces;
  /**
   * Makes this connection the device's only one: older connections of the device, on this pod or
   * another, are closed. Called when the device registers on it (not when it merely authenticates).
   */
  takeOver?: () => Promise<void>;
}

export interface OffersOptions {
  connection: ConnectionRef;
  /** Offer id the client saw last (tRPC tracked events); skip re-sending exactly that offer. */
  lastEventId: string | null;
  signal: AbortSignal;
}

/** What a camera does, as itself. */
export interface DeviceService {
  register(deviceId: string, connection: ConnectionRef | null, input: RegisterInput): Promise<Device>;
  /** Events for one device: its current offer first, then offers and cancel requests, until the signal aborts. */
  offers(deviceId: string, options: OffersOptions): AsyncIterable<DeviceEvent>;
  report(deviceId: string, input: ReportInput): Promise<ReportResult>;
}

export interface PatchService {
  publish(input: PublishPatchInput, actor: string): Promise<Patch>;
  list(limit: number): Promise<Patch[]>;
  get(patchId: string): Promise<PatchDetail>;
  delete(patchId: string, actor: string): Promise<{ patchId: string; deleted: true }>;
}

export interface RolloutService {
  create(input: CreateRolloutInput, actor: string): Promise<RolloutStatus>;
  list(limit: number): Promise<RolloutStatus[]>;
  get(rolloutId: string): Promise<RolloutStatus>;
  /** The newest rollouts now, then again whenever one of them changes. */
  watchList(limit: number, intervalMs: number, signal: AbortSignal): AsyncIterable<RolloutStatus[]>;
  /** Status snapshots, each one different from the last, until the signal aborts. */
  watch(rolloutId: string, intervalMs: number, signal: AbortSignal): AsyncIterable<RolloutStatus>;
  pause(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus>;
  resume(rolloutId: string, actor: string): Promise<RolloutStatus>;
  /** Opens the next wave now, whatever its gate. */
  advance(rolloutId: string, actor: string): Promise<RolloutStatus>;
  cancel(rolloutId: string, actor: string, reason?: string): Promise<RolloutStatus>;
}

/** The device inventory, as operators see it. */
export interface InventoryService {
  list(input: ListDevicesInput): Promise<DevicePage>;
  get(deviceId: string): Promise<DeviceDetail>;
  stats(): Promise<FleetStats>;
  /** Fleet figures now, then again whenever they change. */
  watchStats(intervalMs: number, signal: AbortSignal): AsyncIterable<FleetStats>;
  /** Stored device ids that break today's id rule: every bucket's index read in batches (admin check). */
  checkIds(input: CheckIdsInput): Promise<IdCheck>;
}

export interface EventService {
  /** Stored events, oldest first: the newest `limit`, or those after `after`. */
  list(input: EventsInput): Promise<FleetEvent[]>;
  /** Events as they happen (after `after`, if given), until the signal aborts. */
  follow(options: {
    rolloutId: string | null;
    after: string | null;
    signal: AbortSignal;
  }): AsyncIterable<FleetEvent>;
}

/** Devices' own credentials. */
export interface CredentialService {
  /** Trades an enrollment for the device's own credential; refused if the id already has one. */
  enroll(deviceId: string, enrollTokenId: string | null): Promise<DeviceCredential>;
  provision(input: ProvisionInput, actor: string): Promise<DeviceCredential>;
  rotate(deviceId: string, actor: string): Promise<DeviceCredential>;
  /** From now on the device is refused; its open connection closes within a second. */
  revoke(deviceId: string, actor: string): Promise<{ deviceId: string; revoked: true }>;
}

/** Admin tokens issued at runtime (configured ones live in the server's configuration). */
export interface TokenService {
  create(input: CreateTokenInput, actor: string): Promise<IssuedToken>;
  list(): Promise<TokenInfo[]>;
  revoke(id: string, actor: string): Promise<TokenInfo>;
}

export interface EnrollTokenService {
  create(input: CreateEnrollTokenInput, actor: string): Promise<IssuedEnrollToken>;
  list(): Promise<EnrollTokenInfo[]>;
  revoke(id: string, actor: string): Promise<EnrollTokenInfo>;
}

export interface AuditService {
  /** Appends to the audit log (every mutating admin call). */
  record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;
  list(input: AuditInput): Promise<AuditEntry[]>;
}

/** Every service the router needs, as the server puts them on `ctx.fleet`. */
export interface FleetServices {
  devices: DeviceService;
  patches: PatchService;
  rollouts: RolloutService;
  inventory: InventoryService;
  events: EventService;
  credentials: CredentialService;
  tokens: TokenService;
  enrollTokens: EnrollTokenService;
  audit: AuditService;
}

export interface FleetContext {
  principal: Principal;
  fleet: FleetServices;
  /** Set for calls that arrive over a WebSocket connection. */
  connection: ConnectionRef | null;
}
