import type {
  ConnectionRef,
  CreateRolloutInput,
  FleetService,
  ListDevicesInput,
  OffersOptions,
  PublishPatchInput,
  RegisterInput,
  ReportInput,
} from '@camfleet/contracts';
import { Catalog } from './catalog.js';
import type { FleetDeps } from './deps.js';
import { DeviceChannel } from './devices.js';
import type { HintBus } from './hints.js';
import { Inventory } from './inventory.js';

/** The FleetService port on Redis: every state change is one Lua script. */
export class RedisFleetService implements FleetService {
  readonly devices: DeviceChannel;
  readonly catalog: Catalog;
  readonly inventory: Inventory;

  constructor(deps: FleetDeps) {
    this.devices = new DeviceChannel(deps);
    this.catalog = new Catalog(deps);
    this.inventory = new Inventory(deps);
  }

  attachHints(hints: HintBus): void {
    this.catalog.attachHints(hints);
  }

  registerDevice = (deviceId: string, connection: ConnectionRef | null, input: RegisterInput) =>
    this.devices.registerDevice(deviceId, connection, input);
  deviceOffers = (deviceId: string, options: OffersOptions) => this.devices.deviceOffers(deviceId, options);
  report = (deviceId: string, input: ReportInput) => this.devices.report(deviceId, input);

  publishPatch = (input: PublishPatchInput, actor: string) => this.catalog.publishPatch(input, actor);
  listPatches = (limit: number) => this.catalog.listPatches(limit);
  getPatch = (patchId: string) => this.catalog.getPatch(patchId);
  createRollout = (input: CreateRolloutInput, actor: string) => this.catalog.createRollout(input, actor);
  listRollouts = (limit: number) => this.catalog.listRollouts(limit);
  getRollout = (rolloutId: string) => this.catalog.getRollout(rolloutId);
  watchRollout = (rolloutId: string, intervalMs: number, signal: AbortSignal) =>
    this.catalog.watchRollout(rolloutId, intervalMs, signal);
  cancelRollout = (rolloutId: string, actor: string) => this.catalog.cancelRollout(rolloutId, actor);

  listDevices = (input: ListDevicesInput) => this.inventory.listDevices(input);
  getDevice = (deviceId: string) => this.inventory.getDevice(deviceId);
  stats = () => this.inventory.stats();
}
