/**
 * The Redis key layout. Device-scoped keys live in one of BUCKET_COUNT buckets, each with its own
 * hash tag `{b<n>}`, so every bucket script touches a single Redis Cluster slot. Fleet-wide keys
 * (patches, rollouts, pod leases) share the tag `{g}`.
 */
export const BUCKET_COUNT = 64;

/** FNV-1a (32 bit): stable across processes and languages, cheap, well spread for short ids. */
export function bucketOf(deviceId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) {
    hash ^= deviceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % BUCKET_COUNT;
}

export const ALL_BUCKETS: readonly number[] = Array.from({ length: BUCKET_COUNT }, (_, i) => i);

export class KeySpace {
  constructor(readonly prefix: string) {}

  /** Prefix of every key of bucket n; scripts build the bucket's keys from it. */
  bucket(n: number): string {
    return `${this.prefix}:{b${n}}:`;
  }
  bucketOfDevice(deviceId: string): string {
    return this.bucket(bucketOf(deviceId));
  }
  /** The bucket's due set; passed as KEYS[1] so a cluster client routes the script to its slot. */
  due(bucket: string): string {
    return `${bucket}due`;
  }
  device(deviceId: string): string {
    return `${this.bucketOfDevice(deviceId)}dev:${deviceId}`;
  }
  delivery(rolloutId: string, deviceId: string): string {
    return `${this.bucketOfDevice(deviceId)}d:${rolloutId}:${deviceId}`;
  }
  deviceDeliveries(deviceId: string): string {
    return `${this.bucketOfDevice(deviceId)}dl:${deviceId}`;
  }
  deviceHistory(deviceId: string): string {
    return `${this.bucketOfDevice(deviceId)}h:${deviceId}`;
  }
  bucketDevices(n: number): string {
    return `${this.bucket(n)}devs`;
  }
  bucketOnline(n: number): string {
    return `${this.bucket(n)}online`;
  }
  rolloutCounts(n: number, rolloutId: string): string {
    return `${this.bucket(n)}c:${rolloutId}`;
  }

  private global(name: string): string {
    return `${this.prefix}:{g}:${name}`;
  }
  patch(patchId: string): string {
    return this.global(`patch:${patchId}`);
  }
  get patches(): string {
    return this.global('patches');
  }
  get patchNames(): string {
    return this.global('patchnames');
  }
  rollout(rolloutId: string): string {
    return this.global(`rollout:${rolloutId}`);
  }
  get rollouts(): string {
    return this.global('rollouts');
  }
  get rolloutSeq(): string {
    return this.global('seq:rollout');
  }
  /** Rollouts whose buckets may not all be attached yet (a pod can die mid-create). */
  get attaching(): string {
    return this.global('attaching');
  }
  /** Rollouts that are active or paused. */
  get liveRollouts(): string {
    return this.global('live');
  }
  /** Rollout → when its gates are next due for evaluation. */
  get evalQueue(): string {
    return this.global('eval');
  }
  /** Device → lease expiry: the in-flight slots of a limited rollout. */
  slots(rolloutId: string): string {
    return this.global(`slots:${rolloutId}`);
  }
  /** Token bucket and success count of a limited rollout. */
  limiter(rolloutId: string): string {
    return this.global(`limiter:${rolloutId}`);
  }
  /** A runtime-issued admin token, and the index of them. */
  adminToken(id: string): string {
    return this.global(`token:${id}`);
  }
  get adminTokens(): string {
    return this.global('tokens');
  }
  /** A runtime-issued enrollment token, and the index of them. */
  enrollToken(id: string): string {
    return this.global(`enroll:${id}`);
  }
  get enrollTokens(): string {
    return this.global('enrolls');
  }
  /** Who did what: every mutating admin call, capped. */
  get audit(): string {
    return this.global('audit');
  }
  /** Rollout events (created, paused, wave opened, …), capped. */
  get rolloutEvents(): string {
    return this.global('events');
  }
  /** Delivery events of bucket n, capped. */
  bucketEvents(n: number): string {
    return `${this.bucket(n)}events`;
  }
  /** How many entries of the original's `patch_files` list are imported (legacy migration). */
  get legacyImported(): string {
    return this.global('legacy:patch-files-imported');
  }
  /** Pod instance → lease expiry. */
  get nodes(): string {
    return this.global('nodes');
  }

  hintChannel(instance: string): string {
    return `${this.prefix}:hint:${instance}`;
  }
  get broadcastChannel(): string {
    return `${this.prefix}:hint:*all*`;
  }
}
