import type { Offer } from '@camfleet/contracts';
import { type ClaimReply, offerClaim, offerClaimMany, type RelayedOffers } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { deliveryIdOf } from './ids.js';
import { offeredPatch, offerFrom } from './records.js';
import type { DeviceSession, DeviceSessions } from './sessions.js';
import type { Slots } from './slots.js';

/** Devices per batched claim call: a few ms of Redis time, so other clients are not held up. */
export const CLAIM_BATCH = 100;

/** What a claim pass did for a device. */
export type ClaimOutcome = 'offered' | 'blocked' | 'none';

/**
 * Offer claims: what a device connected here should get now (an offer, a cancel request, nothing),
 * decided by offer_claim in Redis and pushed to its session. One device at a time, or many of one
 * bucket per call for a fan-out; a limited rollout's slot is got first.
 */
export class OfferClaims {
  constructor(
    private readonly deps: FleetDeps,
    private readonly sessions: DeviceSessions,
    private readonly slots: Slots,
  ) {
    slots.onRetry((deviceId, grantedRollout) => this.evaluate(deviceId, grantedRollout));
  }

  /**
   * Sends the device whatever it should have now, if its subscription is on this pod. Claims for
   * one device never overlap; a request during a claim runs one more pass after it. `grant` names
   * a rollout whose slot this pod already acquired for the device. Never rejects.
   */
  async evaluate(deviceId: string, grant = ''): Promise<ClaimOutcome> {
    const session = this.sessions.get(deviceId);
    if (!session) {
      // Not connected here: the slot cannot be used (a reconnect un-parks the device's work).
      if (grant) await this.slots.release(grant, deviceId, 'release').catch(() => undefined);
      return 'none';
    }
    if (session.evaluating) {
      // The running pass takes one more turn, with the slot: it may just have parked the device,
      // and a parked delivery starts only with a slot in hand (dropping it here left the device
      // parked, off the waiting list, with a slot free).
      session.again = true;
      if (grant && session.grant !== grant) {
        const older = session.grant;
        session.grant = grant;
        if (older) await this.slots.release(older, deviceId, 'release').catch(() => undefined);
      }
      return 'none';
    }
    session.evaluating = true;
    let outcome: ClaimOutcome = 'none';
    try {
      do {
        session.again = false;
        session.passes++;
        const slot = grant || session.grant;
        grant = '';
        session.grant = '';
        outcome = await this.claim(session, slot);
      } while (session.again);
    } catch (error) {
      // Redis unavailable or similar: the sweeper hints this device again once it is due, and the
      // session reconcile finds it if it was left parked.
      this.deps.log.warn({ err: error, deviceId }, 'offer claim failed');
    } finally {
      session.evaluating = false;
    }
    if (session.grant) {
      // A slot handed over while the last pass failed: give it back, and wait for another.
      const unused = session.grant;
      session.grant = '';
      this.slots.wait(unused, deviceId);
      await this.slots.release(unused, deviceId, 'release').catch(() => undefined);
    }
    return outcome;
  }

  /** One claim, getting a slot first when the next delivery's rollout is limited. */
  private async claim(session: DeviceSession, granted: string): Promise<ClaimOutcome> {
    const deviceId = session.deviceId;
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    let grant = granted;
    for (;;) {
      const reply = await this.deps.scripts.run(offerClaim, {
        bucket,
        deviceId,
        graceMs: this.deps.hintGraceMs,
        grant,
        connectionId: session.connectionId,
      });
      if (reply.kind === 'slot') {
        if (grant) {
          // The slot we hold was not used (the device's next delivery changed meanwhile).
          await this.slots.release(grant, deviceId, 'release');
          if (grant === reply.rolloutId) return 'none';
        }
        // SLOT means the delivery is queued, so a slot the device still held is stale: use it.
        const { granted, retryAfterMs } = await this.slots.acquire(reply.rolloutId, deviceId);
        if (!granted) {
          await this.slots.park(reply.rolloutId, deviceId, session.connectionId, retryAfterMs);
          return 'blocked';
        }
        grant = reply.rolloutId;
        continue;
      }
      const offered = reply.kind === 'offer' ? reply.rolloutId : '';
      if (grant && grant !== offered) await this.slots.release(grant, deviceId, 'release');
      return this.deliver(session, reply);
    }
  }

  /**
   * Pushes what a claim answered (an offer or a cancel request) to the device's session. `patch`:
   * the offer's patch, when parsed once for many devices.
   */
  private deliver(session: DeviceSession, reply: ClaimReply, patch?: Offer['patch']): ClaimOutcome {
    const deviceId = session.deviceId;
    if (reply.kind === 'offer') {
      const offer = offerFrom(deviceId, reply, patch);
      this.slots.forget(deviceId, offer.rolloutId);
      session.push({ type: 'offer', offer });
      return 'offered';
    }
    if (reply.kind === 'cancel') {
      const deliveryId = deliveryIdOf(reply.rolloutId, deviceId);
      session.push({ type: 'cancel', deliveryId, attempt: reply.attempt, reason: 'rollout stopped' });
    }
    return 'none';
  }

  /**
   * evaluate() for many devices at once (a rollout's fan-out, a broadcast, a batch of hints): the
   * idle sessions here are claimed with one offer_claim_many call per bucket and chunk instead of a
   * round trip each. A device with a claim running or a slot in hand, or whose next delivery needs a
   * slot, goes through evaluate(). Never rejects.
   */
  async evaluateMany(deviceIds: readonly string[]): Promise<void> {
    const idle: DeviceSession[] = [];
    for (const deviceId of deviceIds) {
      const session = this.sessions.get(deviceId);
      // Already in a batch claim (a slow fan-out, and the sweeper re-hinting what it has not
      // reached yet): a pass more per device would double the work just when it is scarce. The
      // due set re-hints the device if the batch missed what this hint was about.
      if (session?.batched) continue;
      if (!session || session.evaluating || session.grant) {
        void this.evaluate(deviceId);
        continue;
      }
      session.evaluating = true;
      session.batched = true;
      session.passes++;
      idle.push(session);
    }
    await Promise.all(this.batches(idle).map((batch) => this.claimMany(batch)));
  }

  /**
   * Pushes offers a script made for connections (an attach offers idle devices at once), each to its
   * device's session if that is still the connection it was made for. A device that has moved on
   * gets the attempt again when it claims on its new connection.
   */
  relayed(groups: readonly RelayedOffers[]): void {
    for (const { reply, devices } of groups) {
      const patch = offeredPatch(reply);
      for (const { deviceId, connectionId } of devices) {
        const session = this.sessions.get(deviceId);
        if (session?.connectionId === connectionId) this.deliver(session, reply, patch);
      }
    }
  }

  /** Evaluates every device held here (a broadcast: work may have appeared for many). */
  async evaluateAll(): Promise<void> {
    await this.evaluateMany(this.sessions.deviceIds());
  }

  /** Sessions grouped by their device's bucket, at most CLAIM_BATCH per group: one script call each. */
  batches(sessions: readonly DeviceSession[]): DeviceSession[][] {
    const byBucket = new Map<number, DeviceSession[]>();
    for (const session of sessions) {
      const bucket = this.deps.keys.bucketOfDevice(session.deviceId).n;
      const group = byBucket.get(bucket) ?? [];
      group.push(session);
      byBucket.set(bucket, group);
    }
    const batches: DeviceSession[][] = [];
    for (const group of byBucket.values())
      for (let i = 0; i < group.length; i += CLAIM_BATCH) batches.push(group.slice(i, i + CLAIM_BATCH));
    return batches;
  }

  /** One offer_claim_many call for sessions of one bucket; their claims are marked running. */
  private async claimMany(sessions: DeviceSession[]): Promise<void> {
    const first = sessions[0];
    if (!first) return;
    let replies: ClaimReply[] = [];
    try {
      replies = await this.deps.scripts.run(offerClaimMany, {
        bucket: this.deps.keys.bucketOfDevice(first.deviceId),
        graceMs: this.deps.hintGraceMs,
        sessions,
      });
    } catch (error) {
      // As in evaluate(): the sweeper hints these devices again once they are due.
      this.deps.log.warn({ err: error, devices: sessions.length }, 'offer claims failed');
    }
    sessions.forEach((session, i) => {
      session.evaluating = false;
      session.batched = false;
      const reply = replies[i];
      // A limited rollout's slot is got by the one-device path, as is a pass asked for meanwhile.
      const slotNeeded = reply?.kind === 'slot';
      if (reply && !slotNeeded) this.deliver(session, reply);
      if (slotNeeded || session.again || session.grant) void this.evaluate(session.deviceId);
    });
  }
}
