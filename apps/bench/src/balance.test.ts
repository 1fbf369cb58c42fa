import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { bucketSpread } from './balance.js';

// How `redis-cli --cluster create` splits the slots over three masters.
const THREE = [
  { node: 'a', slots: [[0, 5460]] as Array<[number, number]> },
  { node: 'b', slots: [[5461, 10922]] as Array<[number, number]> },
  { node: 'c', slots: [[10923, 16383]] as Array<[number, number]> },
];

describe('bucketSpread', () => {
  it('places every bucket on the master serving its tag’s slot', () => {
    const [spread] = bucketSpread(THREE, [64]);
    expect(spread?.perMaster.reduce((a, b) => a + b, 0)).toBe(64);
    const onA = Array.from({ length: 64 }, (_, n) => calculateSlot(`cf:{b${n}}:due`)).filter(
      (s) => s <= 5460,
    );
    expect(spread?.perMaster[0]).toBe(onA.length);
  });

  it('evens out as the bucket count grows', () => {
    const [few, many] = bucketSpread(THREE, [4, 4096]);
    expect(few?.maxOverMean).toBeGreaterThan(many?.maxOverMean ?? 0);
    expect(many?.maxOverMean).toBeLessThan(1.05);
  });
});
