import { deadlineSweep, nodeGone, nodeHeartbeat, nodeReap } from '../redis/scripts/index.js';
import type { RedisFleet } from './fleet.js';
import { byInstanceOf, type HintBus } from './hints.js';
import type { LayoutFollower } from './layout.js';

export interface BackgroundOptions {
  fleet: RedisFleet;
  layout: LayoutFollower;
  hints: HintBus;
  sweepIntervalMs: number;
  leaseMs: number;
  /** Importing the original system's `patch_files` list (FLEET_LEGACY_PATCH_LIST=on). */
  patchList?: { pollMs: number; pass: () => Promise<boolean> };
}

const SWEEP_BATCH = 1000;
/**
 * How often a pod checks that Redis agrees with the next slice of the sessions it holds (presence,
 * parked work; see SessionReconcile), the safety net behind lost hints. All of them are checked
 * when Redis comes back.
 */
const SESSION_RECONCILE_MS = 10_000;
/** After a failed whole check of the sessions, the next try. */
const SESSION_RECHECK_MS = 1_000;
/** How often a pod looks whether the number of devices it holds changed (written only then). */
const HELD_COUNT_MS = 500;
/** How often a pod reads the bucket layout (a bucket split waits for every pod to follow it). */
const LAYOUT_POLL_MS = 100;
/** How often a pod looks for ended rollouts whose finished deliveries are due to go. */
const RETENTION_POLL_MS = 60_000;
/** How often a pod looks for rollouts being attached (their creating pod starts at once). */
const ATTACH_POLL_MS = 1_000;

/**
 * The pod's periodic work. None of it walks the fleet: the sweep reads only what is due, the
 * reaper only expired pod leases, the attach only rollouts not in every bucket yet.
 */
export class Background {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private beats = 0;
  /** The lease was found taken away and the devices held here are not all back online yet. */
  private restoring = false;
  /** The fleet-wide count of rollout changes last seen (null: not read yet). */
  private revisions: string | null = null;
  /** The number of devices held here as last written to Redis (-1: not yet). */
  private publishedHeld = -1;
  /** Redis time (ms) of the last heartbeat whose answer arrived. */
  private lastBeatAt = 0;
  /** Local clock (ms): no reaping before this. */
  private reapHoldUntil = 0;
  private readonly onReady = () => {
    this.holdReaping();
    this.checkAllSessions();
  };

  constructor(private readonly o: BackgroundOptions) {}

  private get deps() {
    return this.o.fleet.deps;
  }

  private get heartbeatMs(): number {
    return Math.max(100, Math.floor(this.o.leaseMs / 3));
  }

  /**
   * Redis is back (after an outage, a restart or a failover, which may have lost the latest writes):
   * every session is checked against it, until a pass succeeds.
   */
  private checkAllSessions(): void {
    if (this.stopped) return;
    this.o.fleet.reconcile.reconcile().catch((error: unknown) => {
      this.deps.log.warn({ err: error }, 'session check after Redis came back failed; retrying');
      setTimeout(() => this.checkAllSessions(), SESSION_RECHECK_MS).unref();
    });
  }

  /** No pod is declared dead for one lease from now (every live pod beats within it). */
  private holdReaping(): void {
    this.reapHoldUntil = Math.max(this.reapHoldUntil, Date.now() + this.o.leaseMs);
  }

  start(): void {
    // Reconnected after a Redis outage: the other pods may reconnect later (their backoff).
    this.deps.redis.on('ready', this.onReady);
    this.loop('sweep', this.o.sweepIntervalMs, () => this.sweep());
    this.loop('heartbeat', this.heartbeatMs, () => this.heartbeat());
    this.loop('devices-held', HELD_COUNT_MS, () => this.publishHeld());
    this.loop('bucket-layout', LAYOUT_POLL_MS, async () => {
      await this.o.layout.pass();
      return false;
    });
    this.loop('reap', Math.max(200, Math.floor(this.o.leaseMs / 2)), () => this.reap());
    this.loop('attach', ATTACH_POLL_MS, () => this.joinAttach());
    this.loop('delivery-retention', RETENTION_POLL_MS, () => this.o.fleet.retention.pass());
    this.loop('rollout-gates', Math.max(50, this.o.sweepIntervalMs), () => this.o.fleet.controller.round());
    this.loop('slot-reconcile', 5_000, async () => {
      await this.o.fleet.slots.retryAll();
      return false;
    });
    this.loop('session-reconcile', SESSION_RECONCILE_MS, async () => {
      await this.o.fleet.reconcile.reconcileSlice();
      return false;
    });
    this.loop('rollout-revisions', 5_000, () => this.watchRevisions());
    const { patchList } = this.o;
    if (patchList) this.loop('legacy-patch-list', patchList.pollMs, patchList.pass);
  }

  /** Stops the loops and waits for a pass in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.deps.redis.off('ready', this.onReady);
    this.o.fleet.slots.stop();
    this.o.fleet.attacher.stop();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running);
  }

  /** Runs `work` every `intervalMs`, never overlapping itself; `work` returning true reruns at once. */
  private loop(name: string, intervalMs: number, work: () => Promise<boolean | undefined>): void {
    const pass = async (): Promise<boolean> => {
      this.deps.metrics.reconcileRuns.inc({ loop: name });
      try {
        return (await work()) === true;
      } catch (error) {
        this.deps.metrics.reconcileErrors.inc({ loop: name });
        if (!this.stopped) this.deps.log.warn({ err: error, loop: name }, 'background loop failed; retrying');
        return false;
      }
    };
    const run = async () => {
      if (this.stopped) return;
      const current = pass();
      const settled = current.then(() => undefined);
      this.running.add(settled);
      const again = await current;
      this.running.delete(settled);
      if (!this.stopped) this.timers.set(name, setTimeout(run, again ? 0 : intervalMs));
    };
    this.timers.set(name, setTimeout(run, 0));
  }

  /** Times out and retries due deliveries in every bucket; hints the pods holding devices with work. */
  async sweep(): Promise<boolean> {
    const { scripts, metrics, redis, keys } = this.deps;
    const replies = await scripts.runInEveryBucket(deadlineSweep, {
      limit: SWEEP_BATCH,
      graceMs: this.deps.hintGraceMs,
    });
    const followUps: Promise<void>[] = [];
    let full = false;
    for (const reply of replies) {
      metrics.sweepClaimed.inc(reply.claimed);
      metrics.timeouts.inc(reply.timeouts);
      metrics.retries.inc(reply.retries);
      if (reply.hints.length >= SWEEP_BATCH) full = true;
      for (const { rolloutId, deviceId } of reply.released) {
        followUps.push(this.o.fleet.slots.release(rolloutId, deviceId, 'release'));
      }
      for (const rolloutId of new Set(reply.finished)) {
        followUps.push(redis.zadd(keys.evalQueue, 0, rolloutId).then(() => undefined));
      }
    }
    const byInstance = byInstanceOf(replies.flatMap((reply) => reply.hints));
    await Promise.all([this.o.hints.hint(byInstance), ...followUps]);
    return full;
  }

  /**
   * Renews this pod's lease. If the lease was gone (after the first beat), another pod declared
   * this one dead — a stall longer than the lease, e.g. while Redis was frozen — and marked its
   * devices offline: put the ones it still holds back online.
   */
  async heartbeat(): Promise<boolean> {
    const started = Date.now();
    const devices = this.o.fleet.sessions.size;
    const { lost, at } = await this.deps.scripts.run(nodeHeartbeat, {
      instance: this.deps.instance,
      leaseMs: this.o.leaseMs,
      devices,
    });
    this.publishedHeld = devices;
    this.lastBeatAt = at;
    // A beat that took longer than the beat interval: Redis (or this pod) stalled, and others' beats
    // may still be on their way.
    if (Date.now() - started > this.heartbeatMs) this.holdReaping();
    if (lost && this.beats > 0) {
      this.deps.log.warn(
        { instance: this.deps.instance },
        'this pod was declared dead while alive; restoring its devices',
      );
      this.restoring = true;
    }
    this.beats++;
    if (this.restoring) {
      // Until it succeeds: a failed attempt is not forgotten by the next beat (which finds the lease).
      await this.o.fleet.reconcile.reassertPresence();
      this.restoring = false;
    }
    return false;
  }

  /**
   * Writes how many devices this pod holds when that changed: the fleet figures read one field per
   * pod instead of every online device (each beat writes it too, e.g. after Redis lost it).
   */
  async publishHeld(): Promise<boolean> {
    const devices = this.o.fleet.sessions.size;
    if (devices === this.publishedHeld) return false;
    await this.deps.redis.hset(this.deps.keys.nodeDevices, this.deps.instance, devices);
    this.publishedHeld = devices;
    return false;
  }

  /** Claims dead pod instances and marks their devices offline. */
  async reap(): Promise<boolean> {
    // Just back from a Redis outage or stall: the other pods get one lease to beat again first.
    if (Date.now() < this.reapHoldUntil || this.lastBeatAt === 0) return false;
    // Judged by the last beat this pod saw answered, not by one still on its way.
    const dead = await this.deps.scripts.run(nodeReap, {
      limit: 10,
      instance: this.deps.instance,
      lastBeatAt: this.lastBeatAt,
    });
    for (const instance of dead) {
      const marked = await this.deps.scripts.runInEveryBucket(nodeGone, {
        instance,
        graceMs: this.deps.hintGraceMs,
      });
      this.deps.log.info(
        { instance, devices: marked.reduce((a, b) => a + b, 0) },
        'pod instance gone; devices offline',
      );
      // It was only stalled and beat again meanwhile: its own check may have run before we marked
      // its devices offline, so tell it to put them back online now.
      if ((await this.deps.redis.zscore(this.deps.keys.nodes, instance)) !== null)
        await this.o.hints.reassert(instance);
    }
    return dead.length === 10;
  }

  /**
   * Safety net for lost broadcasts: when any rollout changed (status or wave) since this pod last
   * looked, every local device is evaluated again. Reads one number, however many rollouts there are.
   */
  async watchRevisions(): Promise<boolean> {
    const { redis, keys } = this.deps;
    const revisions = (await redis.get(keys.rolloutRevisions)) ?? '0';
    const changed = this.revisions !== null && this.revisions !== revisions;
    this.revisions = revisions;
    if (changed) await this.o.fleet.claims.evaluateAll();
    return false;
  }

  /** Joins the attach of rollouts not yet in every bucket (one SCARD while there are none). */
  async joinAttach(): Promise<boolean> {
    if ((await this.deps.redis.scard(this.deps.keys.attaching)) > 0) await this.o.fleet.attacher.kick();
    return false;
  }
}
