import type { FleetServices } from '@camfleet/contracts';
import { ArtifactLinks } from '../artifacts/links.js';
import type { ArtifactStorage } from '../artifacts/storage.js';
import { WebhookEndpoints } from '../webhooks/endpoints.js';
import { RolloutAttacher } from './attacher.js';
import { AuditLog } from './audit.js';
import { OfferClaims } from './claims.js';
import { RolloutController } from './controller.js';
import { DeviceCredentials } from './credentials.js';
import type { FleetDeps } from './deps.js';
import { DeviceChannel } from './devices.js';
import { Events } from './events.js';
import type { HintBus } from './hints.js';
import { Inventory } from './inventory.js';
import { Patches } from './patches.js';
import { SessionReconcile } from './reconcile.js';
import { DeliveryRetention } from './retention.js';
import { Rollouts } from './rollouts.js';
import { DeviceSessions } from './sessions.js';
import { Slots } from './slots.js';
import { AdminTokens, EnrollTokens } from './tokens.js';

/**
 * The fleet on Redis: the services the router calls (`ctx.fleet.rollouts.create(...)`), and the
 * parts the pod's own loops and edges use (sessions, claims, slots, the gate controller). Every
 * state change is one Lua script.
 */
export class RedisFleet implements FleetServices {
  readonly sessions = new DeviceSessions();
  readonly slots: Slots;
  readonly claims: OfferClaims;
  readonly reconcile: SessionReconcile;
  readonly controller: RolloutController;
  readonly artifactLinks: ArtifactLinks;
  readonly attacher: RolloutAttacher;
  readonly retention: DeliveryRetention;

  readonly devices: DeviceChannel;
  readonly patches: Patches;
  readonly rollouts: Rollouts;
  readonly inventory: Inventory;
  readonly events: Events;
  readonly credentials: DeviceCredentials;
  readonly tokens: AdminTokens;
  readonly enrollTokens: EnrollTokens;
  readonly audit: AuditLog;
  readonly webhooks: WebhookEndpoints;

  constructor(
    readonly deps: FleetDeps,
    hints: HintBus,
    storage: ArtifactStorage | null,
  ) {
    this.slots = new Slots(deps);
    this.claims = new OfferClaims(deps, this.sessions, this.slots);
    this.reconcile = new SessionReconcile(deps, this.sessions, this.slots, this.claims);
    this.artifactLinks = new ArtifactLinks({
      ...deps,
      storage,
      presign: deps.artifactPresign ?? { enabled: false, ttlSeconds: 900 },
    });
    this.devices = new DeviceChannel(deps, this.sessions, this.slots, this.claims, this.artifactLinks);
    this.patches = new Patches(deps, storage);
    this.attacher = new RolloutAttacher(deps, hints, deps.attachLeaseMs);
    this.rollouts = new Rollouts(deps, hints, this.attacher);
    this.controller = new RolloutController(deps, this.rollouts);
    this.retention = new DeliveryRetention(deps);
    this.inventory = new Inventory(deps);
    this.events = new Events(deps);
    this.tokens = new AdminTokens(deps);
    this.enrollTokens = new EnrollTokens(deps);
    this.credentials = new DeviceCredentials(deps, this.enrollTokens, (deviceId, code, reason) =>
      hints.kick(deviceId, code, reason),
    );
    this.audit = new AuditLog(deps);
    this.webhooks = new WebhookEndpoints(deps);
  }
}
