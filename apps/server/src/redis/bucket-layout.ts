/**
 * How device ids map to buckets: `count` buckets, or, while the fleet grows to `target` buckets,
 * the buckets in `split` already divided. Growing keeps every device whose bucket number stays the
 * same where it is: `target` is a multiple of `count`, so bucket b (of `count`) splits into
 * b, b + count, b + 2·count, … (of `target`) and only the devices bound for the new numbers move
 * (bucket-split.ts). Stored in Redis (`{g}:layout`, `{g}:layout:split`); every pod follows it.
 */
export interface BucketLayoutState {
  count: number;
  /** The count being grown to, or null when no growth runs. */
  target: number | null;
  /** Buckets (of `count`) whose devices have moved to the target layout. */
  split: ReadonlySet<number>;
  /** Bumped on every change, so a pod can tell it follows the latest. */
  version: number;
}

/** The count a new fleet starts with (and every fleet had before the layout was stored). */
export const DEFAULT_BUCKET_COUNT = 64;
/** At most this many buckets: each is a hash tag, and Redis Cluster has 16,384 slots. */
export const MAX_BUCKET_COUNT = 4_096;

/** FNV-1a (32 bit): stable across processes and languages, cheap, well spread for short ids. */
export function deviceHash(deviceId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) {
    hash ^= deviceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export class BucketLayout {
  static readonly initial = new BucketLayout({
    count: DEFAULT_BUCKET_COUNT,
    target: null,
    split: new Set(),
    version: 0,
  });

  constructor(readonly state: BucketLayoutState) {}

  /** The bucket a device's keys are in now. */
  bucketOf(deviceId: string): number {
    const hash = deviceHash(deviceId);
    const { count, target, split } = this.state;
    const bucket = hash % count;
    return target !== null && split.has(bucket) ? hash % target : bucket;
  }

  /** Every bucket that may hold keys: 0 … target − 1 while growing (the new ones fill as buckets split). */
  get span(): number {
    return this.state.target ?? this.state.count;
  }

  /** Why growing from this layout to `target` buckets is refused, or null. */
  refuseGrowth(target: number): string | null {
    const { count } = this.state;
    if (this.state.target !== null && this.state.target !== target)
      return `a growth to ${this.state.target} buckets is under way; finish it first`;
    if (!Number.isInteger(target) || target <= count || target % count !== 0)
      return `the new bucket count must be a multiple of today's ${count}, and larger`;
    if (target > MAX_BUCKET_COUNT) return `at most ${MAX_BUCKET_COUNT} buckets`;
    return null;
  }
}
