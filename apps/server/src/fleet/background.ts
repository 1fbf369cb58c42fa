import type { RedisClient } from '@camfleet/redis';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { KeySpace } from '../redis/keys.js';
import { runInEveryBucket, runScript } from '../redis/scripts.js';
import { byInstanceOf, type HintBus } from './hints.js';
import type { RedisFleetService } from './redis-fleet.js';

export interface BackgroundOptions {
  redis: RedisClient;
  keys: KeySpace;
  fleet: RedisFleetService;
  hints: HintBus;
  instance: string;
  log: Logger;
  metrics: Metrics;
  sweepIntervalMs: number;
  leaseMs: number;
  hintGraceMs: number;
  /** Importing the original system's `patch_files` list (FLEET_LEGACY_PATCH_LIST=on). */
  patchList?: { pollMs: number; pass: () => Promise<boolean> };
}

const SWEEP_BATCH = 1000;
/** deadline_sweep's reply: hints, slots to release, finished rollouts, [claimed, timeouts, retries]. */
type SweepReply = [string[], string[], string[], [number, number, number]];
/**
 * How often a pod checks that Redis agrees with the sessions it holds (presence, parked work): one
 * script call per bucket and 100 local sessions, the safety net behind lost hints.
 */
const SESSION_RECONCILE_MS = 10_000;
/** A rollout still marked attaching after this long lost the pod that created it. */
const ATTACH_STALL_MS = 10_000;

/**
 * The pod's periodic work. None of it walks the fleet: the sweep reads only what is due, the
 * reaper only expired pod leases, the attach repair only rollouts left half-created.
 */
export class Background {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private beats = 0;
  /** The lease was found taken away and the devices held here are not all back online yet. */
  private restoring = false;
  private readonly revisions = new Map<string, string>();
  /** Redis time (ms) of the last heartbeat whose answer arrived. */
  private lastBeatAt = 0;
  /** Local clock (ms): no reaping before this. */
  private reapHoldUntil = 0;
  private readonly onReady = () => this.holdReaping();

  constructor(private readonly o: BackgroundOptions) {}

  private get heartbeatMs(): number {
    return Math.max(100, Math.floor(this.o.leaseMs / 3));
  }

  /** No pod is declared dead for one lease from now (every live pod beats within it). */
  private holdReaping(): void {
    this.reapHoldUntil = Math.max(this.reapHoldUntil, Date.now() + this.o.leaseMs);
  }

  start(): void {
    // Reconnected after a Redis outage: the other pods may reconnect later (their backoff).
    this.o.redis.on('ready', this.onReady);
    this.loop('sweep', this.o.sweepIntervalMs, () => this.sweep());
    this.loop('heartbeat', this.heartbeatMs, () => this.heartbeat());
    this.loop('reap', Math.max(200, Math.floor(this.o.leaseMs / 2)), () => this.reap());
    this.loop('attach-repair', 5_000, () => this.repairAttach());
    this.loop('rollout-gates', Math.max(50, this.o.sweepIntervalMs), () => this.o.fleet.controller.round());
    this.loop('slot-reconcile', 5_000, async () => {
      await this.o.fleet.slots.retryAll();
      return false;
    });
    this.loop('session-reconcile', SESSION_RECONCILE_MS, async () => {
      await this.o.fleet.devices.reconcile();
      return false;
    });
    this.loop('rollout-revisions', 5_000, () => this.watchRevisions());
    const { patchList } = this.o;
    if (patchList) this.loop('legacy-patch-list', patchList.pollMs, patchList.pass);
  }

  /** Stops the loops and waits for a pass in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.o.redis.off('ready', this.onReady);
    this.o.fleet.slots.stop();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running);
  }

  /** Runs `work` every `intervalMs`, never overlapping itself; `work` returning true reruns at once. */
  private loop(name: string, intervalMs: number, work: () => Promise<boolean | undefined>): void {
    const pass = async (): Promise<boolean> => {
      this.o.metrics.reconcileRuns.inc({ loop: name });
      try {
        return (await work()) === true;
      } catch (error) {
        this.o.metrics.reconcileErrors.inc({ loop: name });
        if (!this.stopped) this.o.log.warn({ err: error, loop: name }, 'background loop failed; retrying');
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
    const replies = (await runInEveryBucket(
      this.o.redis,
      this.o.keys,
      'deadline_sweep',
      SWEEP_BATCH,
      this.o.hintGraceMs,
    )) as SweepReply[];
    const followUps: Promise<void>[] = [];
    let full = false;
    for (const [hints, released, finished, [claimed, timeouts, retries]] of replies) {
      this.o.metrics.sweepClaimed.inc(claimed);
      this.o.metrics.timeouts.inc(timeouts);
      this.o.metrics.retries.inc(retries);
      if (hints.length >= SWEEP_BATCH * 2) full = true;
      for (let i = 0; i < released.length; i += 2) {
        followUps.push(
          this.o.fleet.slots.release(released[i] as string, released[i + 1] as string, 'release'),
        );
      }
      for (const rolloutId of new Set(finished)) {
        followUps.push(this.o.redis.zadd(this.o.keys.evalQueue, 0, rolloutId).then(() => undefined));
      }
    }
    const byInstance = byInstanceOf(replies.flatMap(([hints]) => hints));
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
    const [lost, at] = (await runScript(
      this.o.redis,
      'node_heartbeat',
      this.o.keys.nodes,
      this.o.instance,
      this.o.leaseMs,
    )) as [number, number];
    this.lastBeatAt = at;
    // A beat that took longer than the beat interval: Redis (or this pod) stalled, and others' beats
    // may still be on their way.
    if (Date.now() - started > this.heartbeatMs) this.holdReaping();
    if (lost === 1 && this.beats > 0) {
      this.o.log.warn(
        { instance: this.o.instance },
        'this pod was declared dead while alive; restoring its devices',
      );
      this.restoring = true;
    }
    this.beats++;
    if (this.restoring) {
      // Until it succeeds: a failed attempt is not forgotten by the next beat (which finds the lease).
      await this.o.fleet.devices.reassertPresence();
      this.restoring = false;
    }
    return false;
  }

  /** Claims dead pod instances and marks their devices offline. */
  async reap(): Promise<boolean> {
    // Just back from a Redis outage or stall: the other pods get one lease to beat again first.
    if (Date.now() < this.reapHoldUntil || this.lastBeatAt === 0) return false;
    // Judged by the last beat this pod saw answered, not by one still on its way.
    const dead = (await runScript(
      this.o.redis,
      'node_reap',
      this.o.keys.nodes,
      10,
      this.o.instance,
      this.lastBeatAt,
    )) as string[];
    for (const instance of dead) {
      const marked = (await runInEveryBucket(
        this.o.redis,
        this.o.keys,
        'node_gone',
        instance,
        this.o.hintGraceMs,
      )) as number[];
      this.o.log.info(
        { instance, devices: marked.reduce((a, b) => a + b, 0) },
        'pod instance gone; devices offline',
      );
      // It was only stalled and beat again meanwhile: its own check may have run before we marked
      // its devices offline, so tell it to put them back online now.
      if ((await this.o.redis.zscore(this.o.keys.nodes, instance)) !== null)
        await this.o.hints.reassert(instance);
    }
    return dead.length === 10;
  }

  /**
   * Safety net for lost broadcasts: when a live rollout changed (status or wave) since this pod
   * last looked, every local device is evaluated again. Reads one field per live rollout.
   */
  async watchRevisions(): Promise<boolean> {
    const ids = await this.o.redis.smembers(this.o.keys.liveRollouts);
    const revs = await Promise.all(ids.map((id) => this.o.redis.hget(this.o.keys.rollout(id), 'rev')));
    let changed = false;
    ids.forEach((id, i) => {
      const rev = revs[i] ?? '';
      if (this.revisions.has(id) && this.revisions.get(id) !== rev) changed = true;
      this.revisions.set(id, rev);
    });
    if (changed) await this.o.fleet.devices.evaluateAll();
    return false;
  }

  /** Finishes rollouts whose creating pod died between recording them and attaching every bucket. */
  async repairAttach(): Promise<boolean> {
    const ids = await this.o.redis.smembers(this.o.keys.attaching);
    if (ids.length === 0) return false;
    const [seconds] = await this.o.redis.time();
    const nowMs = Number(seconds) * 1000;
    for (const id of ids) {
      const createdAt = Number(await this.o.redis.hget(this.o.keys.rollout(id), 'createdAt'));
      if (nowMs - createdAt < ATTACH_STALL_MS) continue;
      this.o.log.warn({ rolloutId: id }, 'finishing a rollout left half-attached');
      await this.o.fleet.rollouts.attach(id);
      await this.o.hints.broadcast();
    }
    return false;
  }
}
