import type { ConnectionRef, Principal } from './connection.js';
import type { AdminRole } from './roles.js';
import type {
  AuditService,
  CredentialService,
  EnrollTokenService,
  TokenService,
} from './routers/access.schema.js';
import type { DeviceService } from './routers/device.schema.js';
import type { InventoryService } from './routers/devices.schema.js';
import type { EventService } from './routers/events.schema.js';
import type { PatchService } from './routers/patch.schema.js';
import type { RolloutService } from './routers/rollout.schema.js';
import type { WebhookService } from './routers/webhooks.schema.js';

export type { SubscriptionPlaces } from './connection.js';
export type { AdminRole, ConnectionRef, Principal };

/**
 * The domain services the router calls, one per router domain: a procedure validates its input,
 * checks the caller's role and calls its service on `ctx.fleet` (`ctx.fleet.rollouts.create(...)`).
 * Each service's interface stands in its domain's schema file, beside the schemas it takes and
 * returns, so a new procedure is its schema (and method), its router entry and its implementation.
 * The server implements them on Redis; tests may implement them however they like. Domain failures
 * are thrown as FleetError.
 */
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
  webhooks: WebhookService;
}

export interface FleetContext {
  principal: Principal;
  fleet: FleetServices;
  /** Set for calls that arrive over a WebSocket connection. */
  connection: ConnectionRef | null;
}
