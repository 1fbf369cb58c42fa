import type {
  AuditEntry,
  AuditInput,
  ConnectionRef,
  CreateEnrollTokenInput,
  CreateRolloutInput,
  CreateTokenInput,
  EventsInput,
  FleetService,
  ListDevicesInput,
  OffersOptions,
  ProvisionInput,
  PublishPatchInput,
  RegisterInput,
  ReportInput,
} from '@camfleet/contracts';
import type { ArtifactStorage } from '../artifacts/storage.js';
import { Access } from './access.js';
import { RolloutController } from './controller.js';
import { type FleetDeps, whenChanged } from './deps.js';
import { DeviceChannel } from './devices.js';
import { Events } from './events.js';
import type { HintBus } from './hints.js';
import { Inventory } from './inventory.js';
import { Patches } from './patches.js';
import { Rollouts } from './rollouts.js';
import { SharedWatches } from './shared-watches.js';
import { Slots } from './slots.js';

/** The FleetService port on Redis: every state change is one Lua script. */
export class RedisFleetService implements FleetService {
  readonly slots: Slots;
  readonly devices: DeviceChannel;
  readonly patches: Patches;
  readonly rollouts: Rollouts;
  readonly controller: RolloutController;
  readonly inventory: Inventory;
  readonly events: Events;
  readonly access: Access;
  /** Live views (fleet figures, rollouts) shared by every subscriber on this pod. */
  private readonly watches = new SharedWatches();

  constructor(readonly deps: FleetDeps) {
    this.slots = new Slots(deps);
    this.devices = new DeviceChannel(deps, this.slots);
    this.patches = new Patches(deps);
    this.rollouts = new Rollouts(deps);
    this.controller = new RolloutController(deps, this.rollouts);
    this.inventory = new Inventory(deps);
    this.events = new Events(deps);
    this.access = new Access(deps);
  }

  attachStorage(storage: ArtifactStorage): void {
    this.patches.attachStorage(storage);
  }

  attachHints(hints: HintBus): void {
    this.rollouts.attachHints(hints);
  }

  registerDevice = (deviceId: string, connection: ConnectionRef | null, input: RegisterInput) =>
    this.devices.registerDevice(deviceId, connection, input);
  deviceOffers = (deviceId: string, options: OffersOptions) => this.devices.deviceOffers(deviceId, options);
  report = (deviceId: string, input: ReportInput) => this.devices.report(deviceId, input);

  publishPatch = (input: PublishPatchInput, actor: string) => this.patches.publishPatch(input, actor);
  listPatches = (limit: number) => this.patches.listPatches(limit);
  getPatch = (patchId: string) => this.patches.getPatch(patchId);
  deletePatch = (patchId: string, actor: string) => this.patches.deletePatch(patchId, actor);

  createRollout = (input: CreateRolloutInput, actor: string) => this.rollouts.create(input, actor);
  listRollouts = (limit: number) => this.rollouts.list(limit);
  getRollout = (rolloutId: string) => this.rollouts.get(rolloutId);
  watchRollouts = (limit: number, intervalMs: number, signal: AbortSignal) =>
    this.watches.watch(
      `rollouts:${limit}:${intervalMs}`,
      (stop) => this.rollouts.watchList(limit, intervalMs, stop),
      signal,
    );
  watchRollout = (rolloutId: string, intervalMs: number, signal: AbortSignal) =>
    this.watches.watch(
      `rollout:${rolloutId}:${intervalMs}`,
      (stop) => this.rollouts.watch(rolloutId, intervalMs, stop),
      signal,
    );
  cancelRollout = (rolloutId: string, actor: string, reason?: string) =>
    this.act(rolloutId, 'cancel', actor, reason ?? `canceled by ${actor}`);
  pauseRollout = (rolloutId: string, actor: string, reason?: string) =>
    this.act(rolloutId, 'pause', actor, reason ?? `paused by ${actor}`);
  resumeRollout = (rolloutId: string, actor: string) => this.act(rolloutId, 'resume', actor, '');
  advanceRollout = (rolloutId: string, actor: string) => this.act(rolloutId, 'advance', actor, '');

  listEvents = (input: EventsInput) => this.events.list(input);
  followEvents = (options: { rolloutId: string | null; after: string | null; signal: AbortSignal }) =>
    this.events.follow(options);

  enrollDevice = (deviceId: string, enrollTokenId: string | null) =>
    this.access.enrollDevice(deviceId, enrollTokenId);
  provisionDevice = (input: ProvisionInput, actor: string) => this.access.provisionDevice(input, actor);
  rotateDevice = (deviceId: string, actor: string) => this.access.rotateDevice(deviceId, actor);
  revokeDevice = (deviceId: string, actor: string) => this.access.revokeDevice(deviceId, actor);
  createToken = (input: CreateTokenInput, actor: string) => this.access.createToken(input, actor);
  listTokens = () => this.access.listTokens();
  revokeToken = (id: string, actor: string) => this.access.revokeToken(id, actor);
  createEnrollToken = (input: CreateEnrollTokenInput, actor: string) =>
    this.access.createEnrollToken(input, actor);
  listEnrollTokens = () => this.access.listEnrollTokens();
  revokeEnrollToken = (id: string, actor: string) => this.access.revokeEnrollToken(id, actor);
  recordAudit = (entry: Omit<AuditEntry, 'id' | 'at'>) => this.access.recordAudit(entry);
  listAudit = (input: AuditInput) => this.access.listAudit(input);

  listDevices = (input: ListDevicesInput) => this.inventory.listDevices(input);
  getDevice = (deviceId: string) => this.inventory.getDevice(deviceId);
  stats = () => this.inventory.stats();
  /** Fleet figures read every bucket's presence: one loop per pod serves all its watchers. */
  watchStats = (intervalMs: number, signal: AbortSignal) =>
    this.watches.watch(
      `stats:${intervalMs}`,
      (stop) =>
        whenChanged(
          () => this.inventory.stats(),
          (stats) => JSON.stringify(stats),
          intervalMs,
          stop,
        ),
      signal,
    );

  private async act(
    rolloutId: string,
    action: 'cancel' | 'pause' | 'resume' | 'advance',
    actor: string,
    reason: string,
  ) {
    await this.rollouts.transition(rolloutId, action, actor, reason);
    return this.rollouts.get(rolloutId);
  }
}
