import { deliveryPark, slotAcquire, slotRelease } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';

/**
 * The fleet-wide limits of rate- and in-flight-limited rollouts, seen from one pod: slots are
 * leased in Redis (so a dead pod's slots expire); the devices this pod parked while waiting for a
 * slot are retried when a slot frees up (a hint), when the rate allows again (a timer), and by a
 * periodic reconcile (lost hints).
 */
export class Slots {
  private readonly waiting = new Map<string, Set<string>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private retryDevice: (deviceId: string, grantedRollout: string) => Promise<unknown> = async () => undefined;

  constructor(private readonly deps: FleetDeps) {}

  /** How to retry a parked device that now holds a slot (the device channel's claim). */
  onRetry(retry: (deviceId: string, grantedRollout: string) => Promise<unknown>): void {
    this.retryDevice = retry;
  }

  /**
   * Asks for a slot. `fresh` is false when the device already held one (its delivery is in
   * flight): such a slot belongs to that delivery and must not be released by the caller.
   */
  async acquire(
    rolloutId: string,
    deviceId: string,
  ): Promise<{ granted: boolean; retryAfterMs: number; fresh: boolean }> {
    return this.deps.scripts.run(slotAcquire, { rolloutId, deviceId });
  }

  /** The device's delivery left flight (release) or made progress (hold: renew the lease). */
  async release(
    rolloutId: string,
    deviceId: string,
    action: 'release' | 'hold',
    finalState = '',
  ): Promise<void> {
    const free = await this.deps.scripts.run(slotRelease, { rolloutId, deviceId, action, finalState });
    if (action === 'release' && free > 0)
      await this.deps.redis.spublish(this.deps.keys.broadcastChannel, `cap:${rolloutId}`);
  }

  /**
   * Records that the device waits for a slot of this rollout, here and in Redis (not due meanwhile),
   * on behalf of its connection here: if another connection holds the device by now, nothing is parked.
   */
  async park(rolloutId: string, deviceId: string, connectionId: string, retryAfterMs: number): Promise<void> {
    this.wait(rolloutId, deviceId);
    const parked = await this.deps.scripts.run(deliveryPark, {
      bucket: this.deps.keys.bucketOfDevice(deviceId),
      deviceId,
      rolloutId,
      graceMs: this.deps.hintGraceMs,
      connectionId,
    });
    // Not parked (started meanwhile, or held by a newer connection): the entry above stays, harmless
    // (a retry of a device that needs no slot gives the slot back), since another session of the
    // device here may have put it there too.
    if (parked) this.retryLater(rolloutId, retryAfterMs);
  }

  /** Puts the device on this pod's waiting list for the rollout (its delivery is parked in Redis). */
  wait(rolloutId: string, deviceId: string): void {
    const set = this.waiting.get(rolloutId) ?? new Set<string>();
    set.add(deviceId);
    this.waiting.set(rolloutId, set);
  }

  isWaiting(rolloutId: string, deviceId: string): boolean {
    return this.waiting.get(rolloutId)?.has(deviceId) ?? false;
  }

  private retryLater(rolloutId: string, retryAfterMs: number): void {
    if (retryAfterMs <= 0 || this.timers.has(rolloutId)) return;
    const timer = setTimeout(() => {
      this.timers.delete(rolloutId);
      void this.retry(rolloutId);
    }, retryAfterMs);
    timer.unref();
    this.timers.set(rolloutId, timer);
  }

  /** Gives this pod's parked devices of a rollout the slots it can get, in order, until refused. */
  async retry(rolloutId: string): Promise<void> {
    const set = this.waiting.get(rolloutId);
    if (!set) return;
    for (const deviceId of [...set]) {
      const { granted, retryAfterMs, fresh } = await this.acquire(rolloutId, deviceId);
      if (!granted) {
        this.retryLater(rolloutId, retryAfterMs);
        break;
      }
      // A slot already held in the device's name: its delivery started meanwhile (then the claim that
      // started it took it off this list), or another pod holds it for a moment (a stale waiting
      // entry there: it gives the slot back, which hints a retry). Either way it stays listed here.
      if (!fresh) continue;
      set.delete(deviceId);
      await this.retryDevice(deviceId, rolloutId);
    }
    if (set.size === 0) this.waiting.delete(rolloutId);
  }

  /** Reconcile: every rollout with parked devices here gets a retry (a refused one costs one call). */
  async retryAll(): Promise<void> {
    for (const rolloutId of [...this.waiting.keys()]) await this.retry(rolloutId);
  }

  /** The device started a delivery of this rollout: it no longer waits for one of its slots. */
  forget(deviceId: string, rolloutId: string): void {
    this.waiting.get(rolloutId)?.delete(deviceId);
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
