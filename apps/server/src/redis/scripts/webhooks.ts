import type { KeySpace } from '../keys.js';
import { globalScript, list, num, okValues, pairs, type Script, type ScriptArg, str } from '../script.js';

/**
 * A webhook script: KEYS as `keys` names them (by default the due set), ARGV[1] the webhook key
 * prefix (the script builds the other `{g}` keys from it), then `argv`.
 */
function webhookScript<Input, Reply>(script: {
  name: string;
  numberOfKeys?: number;
  keys?: (input: Input, keys: KeySpace) => string[];
  argv(input: Input): ScriptArg[];
  decode(reply: unknown, input: Input): Reply;
}): Script<Input, Reply> {
  const keysOf = script.keys ?? ((_: Input, k: KeySpace) => [k.webhook('due')]);
  return {
    name: script.name,
    numberOfKeys: script.numberOfKeys ?? 1,
    args: (input, k) => [...keysOf(input, k), k.webhookPrefix, ...script.argv(input)],
    decode: script.decode,
  };
}

/** The endpoint's stored fields (never its secret), as a record. */
export type EndpointFields = Record<string, string>;

/** webhook_create.lua: records a new endpoint; when it was created. */
export const webhookCreate = webhookScript({
  name: 'webhook_create',
  keys: (
    _: {
      id: string;
      url: string;
      events: readonly string[];
      description: string;
      secret: string;
      actor: string;
      maxEndpoints: number;
    },
    k,
  ) => [k.webhook('endpoints')],
  argv: (i) => [i.id, i.url, i.events.join(','), i.description, i.secret, i.actor, i.maxEndpoints],
  decode: (reply) => {
    const [createdAt] = okValues(reply, 'webhook');
    return { createdAt: num(createdAt) };
  },
});

/** webhook_delete.lua: removes an endpoint, its backlog and its log; the endpoint as it was. */
export const webhookDelete = webhookScript({
  name: 'webhook_delete',
  argv: (i: { id: string }) => [i.id],
  decode: (reply, input): EndpointFields => Object.fromEntries(pairs(okValues(reply, `webhook ${input.id}`))),
});

/** webhook_enable.lua: enables an endpoint; how many of its deliveries became due. */
export const webhookEnable = webhookScript({
  name: 'webhook_enable',
  argv: (i: { id: string }) => [i.id],
  decode: (reply, input) => num(okValues(reply, `webhook ${input.id}`)[0]),
});

/** webhook_disable.lua: disables an endpoint at its failure limit; the reason, or null if it did not. */
export const webhookDisable = webhookScript({
  name: 'webhook_disable',
  numberOfKeys: 2,
  keys: (_: { id: string; failureLimit: number; auditMax: number }, k) => [k.webhook('due'), k.audit],
  argv: (i) => [i.id, i.failureLimit, i.auditMax],
  decode: (reply) => {
    const [disabled, reason] = okValues(reply, 'webhook');
    return num(disabled) === 1 ? str(reason) : null;
  },
});

/** One stream entry to fan out: its place in its stream, the event's id, type, time and body. */
export interface EnqueueEntry {
  streamId: string;
  eventId: string;
  type: string;
  at: number;
  body: string;
}

/**
 * webhook_enqueue.lua: fans one stream's entries out into deliveries and moves the stream's cursor;
 * how many deliveries were made, and the endpoints that dropped their oldest ones.
 */
export const webhookEnqueue = webhookScript({
  name: 'webhook_enqueue',
  keys: (_: { tag: string; maxBacklog: number; logKeep: number; entries: readonly EnqueueEntry[] }, k) => [
    k.webhook('cursors'),
  ],
  argv: (i) => [
    i.tag,
    i.maxBacklog,
    i.logKeep,
    ...i.entries.flatMap((e) => [e.streamId, e.eventId, e.type, e.at, e.body]),
  ],
  decode: (reply) => {
    const [made, drops] = okValues(reply, 'webhook enqueue');
    return {
      made: num(made),
      dropped: pairs(list(drops)).map(([endpointId, count]) => ({ endpointId, count: Number(count) })),
    };
  },
});

/** A delivery this pod claimed: what to send, where, and the lease that records its outcome. */
export interface ClaimedDelivery {
  id: string;
  lease: string;
  attempt: number;
  url: string;
  secret: string;
  type: string;
  body: string;
}

/** webhook_claim.lua: due deliveries for this pod to send; Redis time (ms) with them. */
export const webhookClaim = webhookScript({
  name: 'webhook_claim',
  argv: (i: { limit: number; leaseMs: number; instance: string }) => [i.limit, i.leaseMs, i.instance],
  decode: (reply) => {
    const [now, ...claimed] = list(reply);
    return {
      now: num(now),
      claimed: claimed.map((item): ClaimedDelivery => {
        const [id, lease, attempt, url, secret, type, body] = list(item);
        return {
          id: str(id),
          lease: str(lease),
          attempt: num(attempt),
          url: str(url),
          secret: str(secret),
          type: str(type),
          body: str(body),
        };
      }),
    };
  },
});

/** webhook_done.lua: the delivery arrived; false when the claim was stale. */
export const webhookDone = webhookScript({
  name: 'webhook_done',
  argv: (i: { id: string; lease: string; status: number; logKeep: number }) => [
    i.id,
    i.lease,
    i.status,
    i.logKeep,
  ],
  decode: (reply) => num(okValues(reply, 'webhook done')[0]) === 1,
});

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
  maxAgeMs: number;
}

/** webhook_retry.lua: an attempt failed; tried again later, given up, or nothing (a stale claim). */
export const webhookRetry = webhookScript({
  name: 'webhook_retry',
  argv: (i: {
    id: string;
    lease: string;
    status: number | null;
    error: string;
    policy: RetryPolicy;
    jitter: number;
    logKeep: number;
  }) => [
    i.id,
    i.lease,
    i.status ?? 0,
    i.error,
    i.policy.baseMs,
    i.policy.maxMs,
    i.policy.maxAttempts,
    i.policy.maxAgeMs,
    i.jitter,
    i.logKeep,
  ],
  decode: (reply) => {
    const [outcome, failures, nextAt] = okValues(reply, 'webhook retry');
    return {
      outcome: str(outcome) as 'retry' | 'failed' | 'stale',
      failures: num(failures),
      nextAt: num(nextAt),
    };
  },
});

/** webhook_pump_lease.lua: takes or renews the lease of the pod that fans events out; true if held. */
export const webhookPumpLease = globalScript({
  name: 'webhook_pump_lease',
  numberOfKeys: 1,
  keys: (_: { instance: string; leaseMs: number }, k) => [k.webhook('pump')],
  argv: (i) => [i.instance, i.leaseMs],
  decode: (reply) => num(reply) === 1,
});
