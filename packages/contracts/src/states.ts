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
