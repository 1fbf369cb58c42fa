import calculateSlot from 'cluster-key-slot';

/** A cluster master and the hash slot ranges it serves (`0-5460`, or `5461`). */
export interface MasterSlots {
  node: string;
  slots: Array<[number, number]>;
}

/** How the buckets of one bucket count fall on the masters. */
export interface BucketSpread {
  buckets: number;
  /** Buckets on each master, in the masters' order. */
  perMaster: number[];
  /** The busiest master's share over the mean: 1 is perfectly even. */
  maxOverMean: number;
}

/**
 * Where each bucket's hash tag (`{b<n>}`, as the key layout names them) lands for several bucket
 * counts: a bucket is the unit a cluster can place, so few buckets spread unevenly.
 */
export function bucketSpread(masters: readonly MasterSlots[], counts: readonly number[]): BucketSpread[] {
  const masterOf = (slot: number) =>
    masters.findIndex((m) => m.slots.some(([from, to]) => slot >= from && slot <= to));
  return counts.map((buckets) => {
    const perMaster = masters.map(() => 0);
    for (let n = 0; n < buckets; n++) {
      const index = masterOf(calculateSlot(`{b${n}}`));
      if (index >= 0) perMaster[index] = (perMaster[index] ?? 0) + 1;
    }
    const mean = buckets / masters.length;
    return { buckets, perMaster, maxOverMean: Math.round((Math.max(...perMaster) / mean) * 100) / 100 };
  });
}
