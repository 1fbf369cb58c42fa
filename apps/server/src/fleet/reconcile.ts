import { deviceReconcile } from '../redis/scripts/index.js';
import type { OfferClaims } from './claims.js';
import type { FleetDeps } from './deps.js';
import type { DeviceSession, DeviceSessions } from './sessions.js';
import type { Slots } from './slots.js';

/** Repaired devices named in the session reconcile's log line. */
const LOGGED_REPAIRS = 20;

/** Sessions the periodic pass checks at most: an idle pod's safety net costs the same at any size. */
const RECONCILE_SLICE = 500;

/**
 * The safety net behind lost hints and reaping races, per pod: every device whose connection is
 * open here must be online on that connection in Redis, and a delivery of it parked for a slot must
 * be on this pod's waiting list (else nothing would ever retry it). Whole passes run when something
 * may have diverged (Redis came back, this pod's lease was lost); otherwise each periodic pass
 * checks the next slice of the sessions, round the pod in turn.
 */
export class SessionReconcile {
  /** The sessions' devices still to check in the current round of slices. */
  private round: string[] = [];

  constructor(
    private readonly deps: FleetDeps,
    private readonly sessions: DeviceSessions,
    private readonly slots: Slots,
    private readonly claims: OfferClaims,
  ) {}

  /**
   * Marks every device held here online again (after this pod was wrongly reaped), then offers:
   * the reconcile does exactly that, a bucket and 100 devices per call.
   */
  async reassertPresence(): Promise<void> {
    await this.reconcile();
  }

  /** The next slice of at most `limit` sessions (a new round once all were checked). */
  async reconcileSlice(limit = RECONCILE_SLICE): Promise<number> {
    if (this.round.length === 0) this.round = this.sessions.deviceIds();
    const slice = this.round.splice(0, limit);
    return this.reconcile(slice);
  }

  /** One pass over the sessions here (or those of `deviceIds`). Returns how many devices needed repair. */
  async reconcile(deviceIds: readonly string[] = this.sessions.deviceIds()): Promise<number> {
    // Checked in the same tick as the calls: a close after them queues its disconnect behind them.
    const live = deviceIds
      .map((deviceId) => this.sessions.get(deviceId))
      .filter((session): session is DeviceSession => session !== undefined && !session.gone);
    let repaired = 0;
    const adopted = new Set<string>();
    const restoredWithWork: string[] = [];
    const fixed: { deviceId: string; restored: boolean; parked: string }[] = [];
    await Promise.all(
      this.claims.batches(live).map(async (batch) => {
        const first = batch[0];
        if (!first) return;
        const before = batch.map((session) => [session.evaluating, session.passes] as const);
        const replies = await this.deps.scripts.run(deviceReconcile, {
          bucket: this.deps.keys.bucketOfDevice(first.deviceId),
          instance: this.deps.instance,
          graceMs: this.deps.hintGraceMs,
          sessions: batch,
        });
        batch.forEach((session, i) => {
          const { restored, offerable, parked } = replies[i] ?? {
            restored: false,
            offerable: false,
            parked: '',
          };
          const [wasEvaluating, passes] = before[i] ?? [false, 0];
          const deviceId = session.deviceId;
          // Parked by a claim here, a device is on the waiting list or a claim pass for it runs (a
          // retry hands it from one to the other at once); neither, before or after: it is a stray.
          const claiming = wasEvaluating || session.evaluating || session.passes !== passes;
          const stray = parked !== '' && !claiming && !this.slots.isWaiting(parked, deviceId);
          if (restored || stray) {
            repaired++;
            if (fixed.length < LOGGED_REPAIRS)
              fixed.push({ deviceId, restored, parked: stray ? parked : '' });
          }
          if (stray) {
            this.slots.wait(parked, deviceId);
            adopted.add(parked);
          }
          if (offerable) restoredWithWork.push(deviceId);
        });
      }),
    );
    // One line a pass (a reaped pod restores thousands at once), naming the first few devices.
    if (repaired > 0)
      this.deps.log.warn({ repaired, devices: fixed }, 'session reconcile repaired connected devices');
    await this.claims.evaluateMany(restoredWithWork);
    for (const rolloutId of adopted) await this.slots.retry(rolloutId);
    return repaired;
  }
}
