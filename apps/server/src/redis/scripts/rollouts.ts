import type { KeySpace } from '../keys.js';
import {
  bucketScript,
  flag,
  globalScript,
  type InBucket,
  list,
  num,
  okValues,
  pairs,
  str,
} from '../script.js';
import type { ClaimReply } from './deliveries.js';

/** What may happen to a rollout: operators pause, resume, cancel, advance; the controller aborts, opens, meets. */
export type RolloutAction =
  | 'pause'
  | 'resume'
  | 'cancel'
  | 'abort'
  | 'advance'
  | 'open'
  | 'met'
  | 'start'
  | 'end';

/** What recording a rollout of a patch touches, in rollout_create's KEYS order (legacy_import's too). */
export const rolloutRecordKeys = (patchId: string, rolloutId: string, k: KeySpace) => [
  k.patch(patchId),
  k.rollout(rolloutId),
  k.rollouts,
  k.rolloutSeq,
  k.attaching,
  k.liveRollouts,
  k.rolloutEvents,
];

/** rollout_create.lua: records a rollout of an existing patch (the fleet-wide part). */
export const rolloutCreate = globalScript({
  name: 'rollout_create',
  numberOfKeys: 7,
  keys: (i: { patchId: string; rolloutId: string; settings: Record<string, string>; actor: string }, k) =>
    rolloutRecordKeys(i.patchId, i.rolloutId, k),
  argv: (i) => [i.rolloutId, JSON.stringify(i.settings), i.actor],
  decode: (reply, input) => {
    const [seq, createdAt] = okValues(reply, `patch ${input.patchId}`);
    return { seq: num(seq), createdAt: num(createdAt) };
  },
});

/** Offers a script made for devices' connections, to be pushed by the pod instances holding them. */
export interface RelayedOffers {
  /** The same for each of these devices (one rollout, one attempt, one deadline, one delta). */
  reply: Extract<ClaimReply, { kind: 'offer' }>;
  devices: { deviceId: string; instance: string; connectionId: string }[];
}

/** rollout_attach's offers: one group per delta offered (most fleets: one group). */
function relayedOffers(rolloutId: string, reply: unknown): RelayedOffers[] {
  const [deadlineAt, ackTimeoutMs, id, name, version, notes, artifact, signature, ...devices] = list(reply);
  const groups = new Map<string, RelayedOffers>();
  for (let i = 0; i + 3 < devices.length; i += 4) {
    const delta = str(devices[i + 3]);
    let group = groups.get(delta);
    if (!group) {
      const patch = { id: str(id), name: str(name), version: str(version), notes: str(notes) };
      group = {
        reply: {
          kind: 'offer',
          rolloutId,
          attempt: 1,
          deadlineAt: num(deadlineAt),
          ackTimeoutMs: num(ackTimeoutMs),
          window: null,
          patch: { ...patch, artifact: str(artifact), signature: str(signature), delta },
        },
        devices: [],
      };
      groups.set(delta, group);
    }
    group.devices.push({
      deviceId: str(devices[i]),
      instance: str(devices[i + 1]),
      connectionId: str(devices[i + 2]),
    });
  }
  return [...groups.values()];
}

/** rollout_attach.lua: brings a rollout into one bucket and queues it for the devices it targets there. */
export const rolloutAttach = bucketScript({
  name: 'rollout_attach',
  argv: (
    i: InBucket & {
      rolloutId: string;
      graceMs: number;
      settings: string;
      /** The last device of the previous page ('' to start), and the page's size. */
      after: string;
      limit: number;
      /** Target 'devices': this page's ids. */
      deviceIds: string[];
    },
  ) => [
    i.rolloutId,
    i.graceMs,
    i.settings,
    i.after,
    i.limit,
    // The target's ids in this bucket, as the layout says at this try (a bucket may split meanwhile).
    ...i.deviceIds.filter((id) => i.bucket.holds(id)),
  ],
  decode: (reply, input) => {
    const [created, online, offers, next] = list(reply);
    return {
      /** The page's last device, to start the next page after ('' when the bucket is done). */
      next: str(next),
      created: num(created),
      /** The new deliveries' devices that are connected, with the pod holding each (to hint). */
      online: pairs(list(online)).map(([deviceId, instance]) => ({ deviceId, instance })),
      /** Offers made in the attach, each for the connection it was made for (to relay). */
      offers: relayedOffers(input.rolloutId, offers),
    };
  },
});

/** rollout_sync_bucket.lua: the bucket's copy of a rollout follows its new status and open wave. */
export const rolloutSyncBucket = bucketScript({
  name: 'rollout_sync_bucket',
  argv: (
    i: InBucket & {
      rolloutId: string;
      status: string;
      openWave: number;
      graceMs: number;
      reason: string;
      /** Deliveries in flight complete (a schedule's end with `atEnd: finish`). */
      finishInFlight?: boolean;
    },
  ) => [i.rolloutId, i.status, i.openWave, i.graceMs, i.reason, i.finishInFlight ? 'finish' : ''],
  /** Online devices asked to cancel an attempt in flight, with the pod holding each. */
  decode: (reply) => pairs(list(reply)).map(([deviceId, instance]) => ({ deviceId, instance })),
});

/** rollout_transition.lua: an operator's or the controller's decision about a rollout. */
export const rolloutTransition = globalScript({
  name: 'rollout_transition',
  numberOfKeys: 6,
  keys: (
    i: { rolloutId: string; action: RolloutAction; actor: string; reason: string; expectedWave: string },
    k,
  ) => [
    k.rollout(i.rolloutId),
    k.liveRollouts,
    k.evalQueue,
    k.rolloutEvents,
    k.rolloutRevisions,
    k.endedRollouts,
  ],
  argv: (i) => [i.action, i.actor, i.reason, i.expectedWave],
  decode: (reply, input) => {
    const [status, openWave, changed] = okValues(reply, `rollout ${input.rolloutId}`);
    return { status: str(status), openWave: num(openWave), changed: flag(changed) };
  },
});

/** attach_claim.lua: takes buckets of a rollout still to be attached, each for a lease. */
export const attachClaim = globalScript({
  name: 'attach_claim',
  numberOfKeys: 4,
  keys: (i: { rolloutId: string; span: number; count: number; leaseMs: number }, k) => [
    k.attaching,
    k.attachJob(i.rolloutId),
    k.attachLeases(i.rolloutId),
    k.rollout(i.rolloutId),
  ],
  argv: (i) => [i.rolloutId, i.span, i.count, i.leaseMs],
  decode: (reply) => {
    const [buckets, takenOver] = list(reply);
    /** `takenOver`: how many of the buckets (the first ones) a pod held whose lease ran out. */
    return { buckets: list(buckets).map(num), takenOver: num(takenOver) };
  },
});

/** attach_done.lua: one bucket of a rollout is attached; the last one ends the attach. */
export const attachDone = globalScript({
  name: 'attach_done',
  numberOfKeys: 7,
  keys: (i: { rolloutId: string; bucket: number }, k) => [
    k.attaching,
    k.attachJob(i.rolloutId),
    k.attachLeases(i.rolloutId),
    k.attachedBuckets(i.rolloutId),
    k.rollout(i.rolloutId),
    k.rolloutEvents,
    k.evalQueue,
  ],
  argv: (i) => [i.rolloutId, i.bucket],
  decode: (reply) => {
    const [done, span] = list(reply).map(num);
    return { done: done ?? 0, span: span ?? 0, finished: (span ?? 0) > 0 && (done ?? 0) >= (span ?? 0) };
  },
});

/** retention_claim.lua: takes one ended rollout whose finished deliveries are due to go. */
export const retentionClaim = globalScript({
  name: 'retention_claim',
  numberOfKeys: 1,
  keys: (_: { retentionMs: number; leaseMs: number }, k) => [k.endedRollouts],
  argv: (i) => [i.retentionMs, i.leaseMs],
  decode: (reply) => {
    const [rolloutId, score] = list(reply);
    return rolloutId === undefined ? null : { rolloutId: str(rolloutId), score: num(score) };
  },
});

/** retention_done.lua: an ended rollout's finished deliveries are gone from every bucket. */
export const retentionDone = globalScript({
  name: 'retention_done',
  numberOfKeys: 2,
  keys: (i: { rolloutId: string; score: number }, k) => [k.endedRollouts, k.rollout(i.rolloutId)],
  argv: (i) => [i.rolloutId, i.score],
  decode: (reply) => num(reply) === 1,
});

/** delivery_purge.lua: a rollout's finished deliveries leave the archives of a page of a bucket's devices. */
export const deliveryPurge = bucketScript({
  name: 'delivery_purge',
  argv: (i: InBucket & { rolloutId: string; after: string; limit: number }) => [
    i.rolloutId,
    i.after,
    i.limit,
  ],
  decode: (reply) => {
    const [last, removed] = list(reply);
    return { next: str(last), removed: num(removed) };
  },
});

/** rollout_sample.lua: a point of a rollout's counts over time, when they changed. */
export const rolloutSample = globalScript({
  name: 'rollout_sample',
  numberOfKeys: 1,
  keys: (i: { rolloutId: string; succeeded: number; failed: number; active: number; most: number }, k) => [
    k.rolloutSeries(i.rolloutId),
  ],
  argv: (i) => [i.succeeded, i.failed, i.active, i.most],
  decode: (reply) => num(reply) === 1,
});

/** eval_settle.lua: a finished rollout leaves the fallback schedule, unless a trigger queued it since. */
export const evalSettle = globalScript({
  name: 'eval_settle',
  numberOfKeys: 2,
  keys: (_: { rolloutId: string; seenAt: number; snapshot: boolean }, k) => [k.evalQueue, k.endedRollouts],
  argv: (i) => [i.rolloutId, i.seenAt, i.snapshot ? 'snapshot' : ''],
  decode: (reply) => num(reply) === 1,
});

/** eval_claim.lua: claims rollouts whose gates are due for evaluation. */
export const evalClaim = globalScript({
  name: 'eval_claim',
  numberOfKeys: 1,
  keys: (_: { limit: number; fallbackMs: number }, k) => [k.evalQueue],
  argv: (i) => [i.limit, i.fallbackMs],
  decode: (reply) => list(reply).map(str),
});
