import type { KeySpace } from '../keys.js';
import { flag, globalScript, list, num } from '../script.js';

/** A limited rollout's slots, limiter state and record. */
const limiterKeys = (rolloutId: string, k: KeySpace) => [
  k.slots(rolloutId),
  k.limiter(rolloutId),
  k.rollout(rolloutId),
];

/** slot_acquire.lua: may this device start a delivery of a limited rollout now? */
export const slotAcquire = globalScript({
  name: 'slot_acquire',
  numberOfKeys: 3,
  keys: (i: { rolloutId: string; deviceId: string }, k) => limiterKeys(i.rolloutId, k),
  argv: (i) => [i.deviceId],
  decode: (reply) => {
    const [granted, retryAfterMs, fresh] = list(reply);
    /** `fresh` is false when the device already held a slot (its delivery is in flight). */
    return { granted: flag(granted), retryAfterMs: num(retryAfterMs), fresh: flag(fresh) };
  },
});

/** slot_release.lua: give a slot back (or renew its lease); the in-flight slots now free (-1: no cap). */
export const slotRelease = globalScript({
  name: 'slot_release',
  numberOfKeys: 3,
  keys: (i: { rolloutId: string; deviceId: string; action: 'release' | 'hold'; finalState: string }, k) =>
    limiterKeys(i.rolloutId, k),
  argv: (i) => [i.deviceId, i.action, i.finalState],
  decode: (reply) => num(reply),
});
