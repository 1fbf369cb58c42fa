import { scriptFiles } from '../lua.js';
import type { Script } from '../script.js';
import { authFailure, authThrottle } from './auth.js';
import { deadlineSweep, deliveryPark, deliveryReport, offerClaim, offerClaimMany } from './deliveries.js';
import { deviceCredential, deviceDisconnect, deviceReconcile, deviceRegister, nodeGone } from './devices.js';
import { nodeHeartbeat, nodeReap } from './nodes.js';
import { legacyImport, patchDelete, patchDelta, patchPublish } from './patches.js';
import {
  attachClaim,
  attachDone,
  deliveryPurge,
  evalClaim,
  evalSettle,
  retentionClaim,
  retentionDone,
  rolloutAttach,
  rolloutCreate,
  rolloutSample,
  rolloutSyncBucket,
  rolloutTransition,
} from './rollouts.js';
import { slotAcquire, slotRelease } from './slots.js';
import { tokenRevoke, tokenState } from './tokens.js';
import {
  webhookClaim,
  webhookCreate,
  webhookDelete,
  webhookDisable,
  webhookDone,
  webhookEnable,
  webhookEnqueue,
  webhookPumpLease,
  webhookRetry,
} from './webhooks.js';

/** Every transition script, as registered on each connection and preloaded on each master. */
export const ALL_SCRIPTS: readonly Script<never, unknown>[] = [
  deviceRegister,
  deviceDisconnect,
  deviceReconcile,
  deviceCredential,
  nodeGone,
  offerClaim,
  offerClaimMany,
  deliveryReport,
  deadlineSweep,
  deliveryPark,
  rolloutCreate,
  rolloutAttach,
  rolloutSyncBucket,
  rolloutTransition,
  evalClaim,
  attachClaim,
  attachDone,
  retentionClaim,
  retentionDone,
  deliveryPurge,
  rolloutSample,
  evalSettle,
  slotAcquire,
  slotRelease,
  patchPublish,
  patchDelete,
  patchDelta,
  legacyImport,
  nodeHeartbeat,
  nodeReap,
  tokenState,
  tokenRevoke,
  authThrottle,
  authFailure,
  webhookCreate,
  webhookDelete,
  webhookEnable,
  webhookDisable,
  webhookEnqueue,
  webhookClaim,
  webhookDone,
  webhookRetry,
  webhookPumpLease,
];

/** Every .lua file (not an include) has a wrapper above, and every wrapper a file: checked at boot. */
export function checkScriptList(): void {
  const wrapped = new Set(ALL_SCRIPTS.map((script) => script.name));
  const files = scriptFiles();
  const missing = files.filter((file) => !wrapped.has(file));
  const orphans = [...wrapped].filter((name) => !files.includes(name));
  if (missing.length > 0 || orphans.length > 0)
    throw new Error(
      `Lua scripts and wrappers differ: unwrapped ${missing.join(', ') || '-'}; no file ${orphans.join(', ') || '-'}`,
    );
}

export * from './auth.js';
export * from './deliveries.js';
export * from './devices.js';
export * from './nodes.js';
export * from './patches.js';
export * from './rollouts.js';
export * from './slots.js';
export * from './tokens.js';
export * from './webhooks.js';
