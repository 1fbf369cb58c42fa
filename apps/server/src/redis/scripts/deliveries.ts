import type { DeliveryState, ReportInput } from '@camfleet/contracts';
import { bucketScript, flag, type InBucket, list, num, okValues, pairs, str } from '../script.js';

/** What a claim answered for one device (offer_claim.lua's replies). */
export type ClaimReply =
  | { kind: 'none' }
  /** The next delivery's rollout is limited: get a slot, then claim again with it. */
  | { kind: 'slot'; rolloutId: string }
  /** The attempt in flight was asked to stop. */
  | { kind: 'cancel'; rolloutId: string; attempt: number }
  | {
      kind: 'offer';
      rolloutId: string;
      attempt: number;
      deadlineAt: number;
      ackTimeoutMs: number;
      /** The maintenance window the offer was made in (its rollout has windows), or null. */
      window: { opensAt: number; closesAt: number } | null;
      patch: {
        id: string;
        name: string;
        version: string;
        notes: string;
        artifact: string;
        signature: string;
        /** The delta for the version the device runs (JSON), or ''. */
        delta: string;
      };
    };

export function claimReply(reply: unknown): ClaimReply {
  const [
    kind,
    rolloutId,
    attempt,
    deadlineAt,
    ackTimeoutMs,
    patchId,
    name,
    version,
    notes,
    artifact,
    signature,
    opensAt,
    closesAt,
    delta,
  ] = list(reply);
  switch (kind) {
    case 'SLOT':
      return { kind: 'slot', rolloutId: str(rolloutId) };
    case 'CANCEL':
      return { kind: 'cancel', rolloutId: str(rolloutId), attempt: num(attempt) };
    case 'OFFER':
      return {
        kind: 'offer',
        rolloutId: str(rolloutId),
        attempt: num(attempt),
        deadlineAt: num(deadlineAt),
        ackTimeoutMs: num(ackTimeoutMs),
        window: num(closesAt) > 0 ? { opensAt: num(opensAt), closesAt: num(closesAt) } : null,
        patch: {
          id: str(patchId),
          name: str(name),
          version: str(version),
          notes: str(notes),
          artifact: str(artifact),
          signature: str(signature),
          delta: str(delta),
        },
      };
    default:
      return { kind: 'none' };
  }
}

/** offer_claim.lua: what one device should get now, for its connection. `grant`: a slot held for it. */
export const offerClaim = bucketScript({
  name: 'offer_claim',
  argv: (i: InBucket & { deviceId: string; graceMs: number; grant: string; connectionId: string }) => [
    i.deviceId,
    i.graceMs,
    i.grant,
    i.connectionId,
  ],
  decode: claimReply,
});

/** offer_claim_many.lua: offer_claim for many devices of one bucket (no slot grants), in order. */
export const offerClaimMany = bucketScript({
  name: 'offer_claim_many',
  argv: (i: InBucket & { graceMs: number; sessions: { deviceId: string; connectionId: string }[] }) => [
    i.graceMs,
    ...i.sessions.flatMap((s) => [s.deviceId, s.connectionId]),
  ],
  decode: (reply) => list(reply).map(claimReply),
});

/** What a limited rollout's slot needs after a report: renewed, given back, or nothing. */
export type SlotFollowUp = 'hold' | 'release' | '';

/** delivery_report.lua: a device reports progress or the outcome of its current attempt. */
export const deliveryReport = bucketScript({
  name: 'delivery_report',
  argv: (i: InBucket & { deviceId: string; rolloutId: string; report: ReportInput; graceMs: number }) => [
    i.deviceId,
    i.rolloutId,
    i.report.attempt,
    i.report.status,
    i.report.error ?? '',
    i.graceMs,
    i.report.firmwareVersion ?? '',
    i.report.delta ? '1' : '',
  ],
  decode: (reply, input) => {
    const [state, attempt, duplicate, offerable, slot] = okValues(
      reply,
      `report for ${input.report.deliveryId}`,
    );
    return {
      state: str(state) as DeliveryState,
      attempt: num(attempt),
      /** The same report was accepted before: nothing changed. */
      duplicate: flag(duplicate),
      offerable: flag(offerable),
      slot: str(slot) as SlotFollowUp,
    };
  },
});

/** deadline_sweep.lua: claims the bucket's due devices, times out and retries what is past due. */
export const deadlineSweep = bucketScript({
  name: 'deadline_sweep',
  argv: (i: InBucket & { limit: number; graceMs: number }) => [i.limit, i.graceMs],
  decode: (reply) => {
    const [hints, released, finished, tally] = list(reply);
    const [claimed, timeouts, retries] = list(tally);
    return {
      /** Online devices with work to offer now, and the pod instance holding each. */
      hints: pairs(list(hints)).map(([deviceId, instance]) => ({ deviceId, instance })),
      /** Slots to give back: deliveries of limited rollouts that left flight. */
      released: pairs(list(released)).map(([rolloutId, deviceId]) => ({ rolloutId, deviceId })),
      /** Rollouts with a delivery that finished (their gates are due). */
      finished: list(finished).map(str),
      claimed: num(claimed),
      timeouts: num(timeouts),
      retries: num(retries),
    };
  },
});

/** delivery_park.lua: the device's next delivery waits for a slot. True if parked. */
export const deliveryPark = bucketScript({
  name: 'delivery_park',
  argv: (i: InBucket & { deviceId: string; rolloutId: string; graceMs: number; connectionId: string }) => [
    i.deviceId,
    i.rolloutId,
    i.graceMs,
    i.connectionId,
  ],
  decode: (reply) => flag(reply),
});
