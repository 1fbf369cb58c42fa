import type { AdminRole } from './roles.js';

/** Who is calling, and the connection a call arrived on: what every service may be handed. */

/** Who is calling. Admin roles are ordered: viewer < operator < admin (roles.ts). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'admin'; name: string; role: AdminRole }
  | { kind: 'device'; deviceId: string }
  /** Connected with an enrollment token: may only enroll (`enrollTokenId` null for the configured token). */
  | { kind: 'enrollee'; deviceId: string; enrollTokenId: string | null };

/** Places for subscriptions: how many are open, how many may be. */
export interface SubscriptionPlaces {
  open: number;
  max: number;
}

/** The live connection a call arrived on (WebSocket), if any. */
export interface ConnectionRef {
  connectionId: string;
  /** Subscriptions open on this connection, and how many it may have. */
  subscriptions: SubscriptionPlaces;
  /**
   * Subscriptions open on this pod by the same admin token across all its connections: one object
   * shared by them. Absent where one connection is all a principal has (a device).
   */
  principalSubscriptions?: SubscriptionPlaces;
  /**
   * Makes this connection the device's only one: older connections of the device, on this pod or
   * another, are closed. Called when the device registers on it (not when it merely authenticates).
   */
  takeOver?: () => Promise<void>;
}
