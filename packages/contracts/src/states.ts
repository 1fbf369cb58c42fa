/**
 * Delivery states in pipeline order, without zod: a browser bundle (the dashboard) imports this
 * from `@camfleet/contracts/states` and stays free of the schemas.
 */
export const DELIVERY_STATES = [
  'queued',
  'offered',
  'downloading',
  'installing',
  /** Installed; waiting for the device to come back running the patch's version. */
  'verifying',
  'succeeded',
  'failed',
  'canceled',
] as const;
export type DeliveryStateName = (typeof DELIVERY_STATES)[number];

/** Where a delivery ends. */
export const FINAL_STATES: readonly DeliveryStateName[] = ['succeeded', 'failed', 'canceled'];
/** Deliveries still moving: waiting for an offer, or at work on the device. */
export const OPEN_STATES: readonly DeliveryStateName[] = [
  'queued',
  'offered',
  'downloading',
  'installing',
  'verifying',
];
