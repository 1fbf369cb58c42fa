import { FleetError } from '@camfleet/contracts';
import { isCluster, type RedisClient } from '@camfleet/redis';
import calculateSlot from 'cluster-key-slot';
import { queueScript, type ScriptArg } from './script-calls.js';

/** Replicas a write must reach before it is acknowledged (WAIT). */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

interface PendingWrite {
  name: string;
  args: ScriptArg[];
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/** The writes waiting for one master, and whether a batch of them is out. */
interface MasterQueue {
  pending: PendingWrite[];
  busy: boolean;
  scheduled: boolean;
}

/**
 * Transitions that must survive a failover, acknowledged once replicas hold them; when fewer
 * replicas confirm them in time, they are refused as UNAVAILABLE, to be repeated (a device repeats
 * its report, which is idempotent). The master may keep them or lose them: a master cut off from
 * its replica (stalled past Sentinel's patience and failed over, then running on) is demoted and
 * drops what it took meanwhile, so what was not replicated was never promised. WAIT blocks the
 * connection it runs on until the replicas answer (or the timeout, when a replica is gone), so
 * these writes have a connection of their own, and go in batches: per master, [script, script, …,
 * WAIT] in one pipeline, one batch out at a time; what arrives meanwhile forms the next batch. A
 * missing replica then costs each write one timeout of latency, not the pod its throughput.
 */
export class ReplicatedWrites {
  private readonly queues = new Map<string, MasterQueue>();
  /** Since when every batch came back short (null: the last one was confirmed). */
  private shortSince: number | null = null;

  constructor(
    /** A connection used for nothing else, with the scripts defined. */
    private readonly client: RedisClient,
    private readonly wait: ReplicaWait,
    /** Called when fewer replicas than asked confirmed a batch (its writes are refused as UNAVAILABLE). */
    private readonly onShort: (scripts: string[], replicas: number, waitError: string | null) => void,
    /**
     * Called once batches have come back short for `afterMs` without a break, then again after as
     * long: the connection may sit on a master that no longer is one (Sentinel).
     */
    private readonly stuck: { afterMs: number; onStuck: () => void } | null = null,
  ) {}

  /** Runs a script (KEYS[1] first) and resolves with its reply once the replicas confirmed it. */
  run(name: string, args: ScriptArg[]): Promise<unknown> {
    // Batches are made per master: a cluster client must know the slot map first.
    if (isCluster(this.client) && this.client.slots.length === 0)
      return this.client.ping().then(() => this.run(name, args));
    return new Promise((resolve, reject) => {
      const master = this.masterOf(String(args[0]));
      const queue = this.queues.get(master) ?? { pending: [], busy: false, scheduled: false };
      this.queues.set(master, queue);
      queue.pending.push({ name, args, resolve, reject });
      if (queue.busy || queue.scheduled) return;
      // The rest of this event-loop turn joins the batch.
      queue.scheduled = true;
      setImmediate(() => {
        queue.scheduled = false;
        void this.drain(queue);
      });
    });
  }

  private unconfirmed(replicas: number): FleetError {
    return new FleetError(
      'UNAVAILABLE',
      `not confirmed by ${this.wait.replicas} Redis replica(s) within ${this.wait.timeoutMs} ms (${replicas} did): a failover could lose it; repeat it`,
    );
  }

  private noteShort(short: boolean): void {
    if (!short || !this.stuck) {
      this.shortSince = null;
      return;
    }
    const now = Date.now();
    this.shortSince ??= now;
    if (now - this.shortSince < this.stuck.afterMs) return;
    this.shortSince = now;
    this.stuck.onStuck();
  }

  /** WAIT counts the replicas of the node it runs on: one batch per master. */
  private masterOf(key: string): string {
    return isCluster(this.client) ? (this.client.slots[calculateSlot(key)]?.[0] ?? '') : '';
  }

  private async drain(queue: MasterQueue): Promise<void> {
    while (!queue.busy && queue.pending.length > 0) {
      const batch = queue.pending;
      queue.pending = [];
      queue.busy = true;
      await this.send(batch);
      queue.busy = false;
    }
  }

  private async send(writes: PendingWrite[]): Promise<void> {
    try {
      const pipeline = this.client.pipeline();
      for (const write of writes) queueScript(pipeline, write.name, write.args);
      pipeline.wait(this.wait.replicas, this.wait.timeoutMs);
      const results = (await pipeline.exec()) ?? [];
      const [waitError, confirmed] = results[writes.length] ?? [null, 0];
      const replicas = waitError ? 0 : Number(confirmed);
      const short = replicas < this.wait.replicas;
      if (short)
        this.onShort(
          writes.map((write) => write.name),
          replicas,
          waitError?.message ?? null,
        );
      this.noteShort(short);
      let moved = false;
      writes.forEach((write, i) => {
        const [error, reply] = results[i] ?? [new Error('no reply in the pipeline'), null];
        moved ||= error?.message.startsWith('MOVED') === true;
        if (error) write.reject(error);
        else if (short) write.reject(this.unconfirmed(replicas));
        else write.resolve(reply);
      });
      // The slots moved (a failover): the callers retry, on the new map.
      if (moved && isCluster(this.client)) this.client.refreshSlotsCache();
    } catch (error) {
      for (const write of writes) write.reject(error);
    }
  }
}
