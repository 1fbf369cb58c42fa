import { parseSelector } from '@camfleet/contracts';
import { attachClaim, attachDone, rolloutAttach } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { byInstanceOf, type HintBus } from './hints.js';
import { offeredDeltas } from './patches.js';
import { isLimited, rolloutFrom } from './records.js';
import { windowsRule, zoneInfo } from './zones.js';

/** How long a pod holds a bucket it attaches before another pod may take it over. */
export const ATTACH_LEASE_MS = 10_000;
/**
 * Buckets a pod claims at a time, attached side by side. Redis runs them back to back (about
 * 45 µs a device); a batch keeps every master busy without holding one pod's claim on all buckets.
 */
const CLAIM_BATCH = 16;

/**
 * Devices one attach script call takes: about 70 ms of Redis (a bucket of a million-device fleet in
 * one call would hold its Redis for a second, every other command waiting).
 */
const ATTACH_PAGE = 1_000;

/** What every bucket's attach of one rollout is given. */
export interface AttachPlan {
  settings: string;
  deviceIds: string[];
}

/**
 * Attaches rollouts in the background, bucket by bucket: `rollout.create` only records a rollout.
 * Every pod takes part (it claims buckets for a lease in Redis), so an attach goes on when the pod
 * that created the rollout dies: its buckets' leases run out and another pod takes them.
 */
export class RolloutAttacher {
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly deps: FleetDeps,
    private readonly hints: HintBus,
    private readonly leaseMs = ATTACH_LEASE_MS,
  ) {}

  /** Works the rollouts being attached until none has a bucket this pod can claim. */
  kick(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  /** Takes no more buckets (a pass in progress finishes its claimed ones). */
  stop(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      while (!this.stopped && (await this.pass()));
    } while (this.again && !this.stopped);
  }

  /** One claim per rollout being attached; true if any bucket was attached. */
  private async pass(): Promise<boolean> {
    const ids = await this.deps.redis.smembers(this.deps.keys.attaching);
    const worked = await Promise.all(ids.map((id) => this.attachSome(id)));
    return worked.includes(true);
  }

  private async attachSome(rolloutId: string): Promise<boolean> {
    const { scripts, keys } = this.deps;
    const { buckets: claimed, takenOver } = await scripts.run(attachClaim, {
      rolloutId,
      span: keys.allBuckets.length,
      count: CLAIM_BATCH,
      leaseMs: this.leaseMs,
    });
    if (claimed.length === 0) return false;
    const plan = await this.planOf(rolloutId);
    await Promise.all(
      claimed.map(async (index) => {
        try {
          if (plan) await this.attachBucket(rolloutId, index, plan);
          await scripts.run(attachDone, { rolloutId, bucket: index });
        } catch (error) {
          // Its lease runs out and a pod (this one, next pass) attaches it again: nothing twice.
          this.deps.log.warn(
            { err: error, rolloutId, bucket: index },
            'attaching a bucket failed; retried later',
          );
        }
      }),
    );
    // The pod that held these may have died between an attach's offers and their relay: every pod
    // looks at its devices again (a claim sends an offer in flight again).
    if (takenOver > 0) await this.hints.broadcast();
    return true;
  }

  /** Attaches one bucket (what a claim of it leads to), a page of its devices per script call. */
  async attachBucket(rolloutId: string, index: number, plan: AttachPlan): Promise<void> {
    const bucket = this.deps.keys.bucket(index);
    const named = plan.deviceIds.filter((id) => bucket.holds(id));
    let after = '';
    let page = 0;
    do {
      const attached = await this.deps.scripts.run(rolloutAttach, {
        bucket,
        rolloutId,
        graceMs: this.deps.hintGraceMs,
        settings: plan.settings,
        after,
        limit: ATTACH_PAGE,
        deviceIds: named.slice(page * ATTACH_PAGE, (page + 1) * ATTACH_PAGE),
      });
      // Offers made in the attach go out now; other new work is hinted (the sweep catches a lost one).
      await Promise.all([this.hints.relay(attached.offers), this.hints.hint(byInstanceOf(attached.online))]);
      after = attached.next;
      page++;
    } while (after !== '' || page * ATTACH_PAGE < named.length);
  }

  /** The rollout's settings as each bucket's copy holds them (null: the rollout is gone). */
  async planOf(rolloutId: string): Promise<AttachPlan | null> {
    const hash = await this.deps.redis.hgetall(this.deps.keys.rollout(rolloutId));
    if (!hash.id) return null;
    const rollout = rolloutFrom(hash);
    const settings = JSON.stringify({
      seq: hash.seq,
      patchId: hash.patchId,
      name: hash.name,
      version: hash.version,
      notes: hash.notes ?? '',
      artifact: hash.artifact ?? '',
      signature: hash.signature ?? '',
      ackTimeoutMs: hash.ackTimeoutMs,
      maxAttempts: hash.maxAttempts,
      backoffBaseMs: hash.backoffBaseMs,
      backoffMaxMs: hash.backoffMaxMs,
      waves: hash.waves,
      target: rollout.target.kind,
      selector:
        rollout.target.kind === 'selector' ? JSON.stringify(parseSelector(rollout.target.selector)) : '',
      continuous: rollout.snapshot ? '0' : '1',
      limited: isLimited(rollout) ? '1' : '0',
      supersede: rollout.supersede ? '1' : '0',
      status: hash.status,
      openWave: hash.openWave,
      windows: windowsRule(rollout.windows),
      wz: rollout.windows.length > 0 ? zoneInfo(rollout.windowZone, Date.now()) : '',
      downloadAhead: rollout.downloadAhead ? '1' : '0',
      deltas: offeredDeltas(hash.deltas, hash.artifact),
    });
    return { settings, deviceIds: rollout.target.kind === 'devices' ? rollout.target.deviceIds : [] };
  }
}
