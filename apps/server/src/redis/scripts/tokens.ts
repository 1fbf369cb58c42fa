import { globalScript, okValues, pairs, str } from '../script.js';

/**
 * token_state.lua: a runtime-issued token's stored digest, name and role (and, for enrollment
 * tokens, take or give back one use). Null when it is unknown, revoked, expired or used up.
 */
export const tokenState = globalScript({
  name: 'token_state',
  numberOfKeys: 1,
  keys: (i: { key: string; take: -1 | 0 | 1 }) => [i.key],
  argv: (i) => [i.take],
  decode: (reply) => {
    if (Array.isArray(reply) && reply[0] === 'ERR') return null;
    const [hash, name, role] = okValues(reply, 'token');
    return { hash: str(hash), name: str(name), role: str(role) };
  },
});

/** token_revoke.lua: revokes a runtime-issued token; its fields (without its digest). */
export const tokenRevoke = globalScript({
  name: 'token_revoke',
  numberOfKeys: 1,
  keys: (i: { key: string; what: string }) => [i.key],
  argv: () => [],
  decode: (reply, input) => Object.fromEntries(pairs(okValues(reply, input.what))),
});
