import { globalScript, list } from '../script.js';

/** The two failure counters of a login attempt: its address's, and its (address, identity)'s. */
export interface AuthFailureKeys {
  address: string;
  identity: string;
}

/** auth_throttle.lua: which counter, if any, refuses a login now, and for how long. */
export const authThrottle = globalScript({
  name: 'auth_throttle',
  numberOfKeys: 2,
  keys: (i: AuthFailureKeys & { perAddress: number; perIdentity: number }) => [i.address, i.identity],
  argv: (i) => [i.perAddress, i.perIdentity],
  decode: (reply) => {
    const [by, ms] = list(reply);
    return by === 'address' || by === 'identity' ? { by, retryAfterMs: Number(ms) } : null;
  },
});

/** auth_failure.lua: one more refused credential; both counters after it. */
export const authFailure = globalScript({
  name: 'auth_failure',
  numberOfKeys: 2,
  keys: (i: AuthFailureKeys & { windowMs: number }) => [i.address, i.identity],
  argv: (i) => [i.windowMs],
  decode: (reply) => {
    const [address, identity] = list(reply).map(Number);
    return { address: address ?? 0, identity: identity ?? 0 };
  },
});
