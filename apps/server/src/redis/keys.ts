/**
 * The Redis key layout, all of it. Device-scoped keys live in one of the layout's buckets
 * (bucket-layout.ts: 64 until an operator grows them), each with its own hash tag `{b<n>}`, so every
 * bucket script touches a single Redis Cluster slot. Fleet-wide keys (patches, rollouts, pod leases)
 * share the tag `{g}`. The Lua scripts build bucket keys with
 * the same table (BUCKET_KEYS, turned into the generated include `keys`: `K.device(B, id)`), and get
 * fleet-wide keys as KEYS from KeySpace: no key name is spelled anywhere else.
 */
import { BucketLayout, type BucketLayoutState, DEFAULT_BUCKET_COUNT, deviceHash } from './bucket-layout.js';

/** The bucket of a device in a fleet of `count` buckets that is not growing (tests pick ids by it). */
export function bucketOf(deviceId: string, count = DEFAULT_BUCKET_COUNT): number {
  return deviceHash(deviceId) % count;
}

/**
 * The keys of one bucket, after its prefix (`cf:{b7}:`). Each is a function of the ids it names;
 * literal text and ids only, so the Lua include can be generated from it.
 */
export const BUCKET_KEYS = {
  /** Device → when it next needs attention (deadline, retry, hint grace). Every bucket script's KEYS[1]. */
  due: () => 'due',
  /** Every device of the bucket (zset, score 0: ordered by id for paging). */
  devices: () => 'devs',
  /** Online device → the pod instance holding it. */
  online: () => 'online',
  /** Delivery events of the bucket (capped stream). */
  events: () => 'events',
  /** Continuous rollouts attached here (zset by seq): devices that register later join them. */
  rollouts: () => 'ros',
  /** The layout version of the bucket's last split; a caller placing devices by an older one is refused (placement.lua). */
  placedBy: () => 'placed-by',
  /** A device: inventory, presence, credential digest, its active delivery. */
  device: (deviceId: string) => `dev:${deviceId}`,
  /** The device's queued deliveries (zset rolloutId by seq). */
  queue: (deviceId: string) => `q:${deviceId}`,
  /** The device's deliveries not finished yet (zset rolloutId by seq); finished ones are in `archive`. */
  deviceDeliveries: (deviceId: string) => `dl:${deviceId}`,
  /** The device's recent state changes (capped list, newest first). */
  history: (deviceId: string) => `h:${deviceId}`,
  /** The bucket's copy of a rollout: what its scripts need, kept in step by rollout_sync_bucket. */
  rollout: (rolloutId: string) => `ro:${rolloutId}`,
  /** A rollout's targeted device ids in this bucket (target kind `devices`). */
  rolloutDevices: (rolloutId: string) => `ro-ids:${rolloutId}`,
  /** A rollout's deliveries of this bucket not finished yet. */
  open: (rolloutId: string) => `open:${rolloutId}`,
  /** A rollout's counters in this bucket: per state, per wave and state (`w1:queued`), timeouts. */
  counts: (rolloutId: string) => `c:${rolloutId}`,
  /** One delivery: (rollout, device), while it is not finished. */
  delivery: (rolloutId: string, deviceId: string) => `d:${rolloutId}:${deviceId}`,
  /**
   * The device's finished deliveries, compacted (a string of lines, one per delivery: what
   * `fleet device show` needs of it, deliveries.lua `compact`): about a quarter of a record's size.
   */
  archive: (deviceId: string) => `arc:${deviceId}`,
} as const satisfies Record<string, (...ids: string[]) => string>;
type BucketKeys = typeof BUCKET_KEYS;

/**
 * The webhook keys, after the webhook prefix (`cf:{g}:wh:`): fleet-wide, so every webhook script
 * runs in the one slot of `{g}`. Generated into the Lua include `webhook_keys` as `W.<name>(P, ...)`.
 */
export const WEBHOOK_KEYS = {
  /** Endpoint id → creation time. */
  endpoints: () => 'endpoints',
  /** An endpoint: URL, patterns, signing secret, enabled, counters. */
  endpoint: (endpointId: string) => `ep:${endpointId}`,
  /** Delivery id (`<endpoint>/<event>`) → when it is next tried, or when its claim's lease ends. */
  due: () => 'due',
  /** One event's delivery to one endpoint. */
  delivery: (endpointId: string, eventId: string) => `d:${endpointId}:${eventId}`,
  /** An endpoint's backlog: event ids not delivered yet, by event time. */
  pending: (endpointId: string) => `pending:${endpointId}`,
  /** An endpoint's finished deliveries (delivered, given up, dropped), by when they ended; capped. */
  log: (endpointId: string) => `log:${endpointId}`,
  /** Event stream (`g`, `b<n>`) → the last entry fanned out into deliveries. */
  cursors: () => 'cursors',
  /** Which pod fans the event streams out (a lease). */
  pump: () => 'pump',
} as const satisfies Record<string, (...ids: string[]) => string>;
type WebhookKeys = typeof WEBHOOK_KEYS;

/**
 * A key table as Lua: `<table>.<name>(<prefix>, ...)` for each key. Each function is called with
 * placeholders, and what it returns becomes the concatenation of its literals and arguments.
 */
function keysLua(
  table: Record<string, (...ids: string[]) => string>,
  lua: { name: string; prefix: string; source: string },
): string {
  const lines = [`-- Generated from ${lua.source}.`, `local ${lua.name} = {}`];
  for (const [name, key] of Object.entries(table)) {
    const params = Array.from({ length: key.length }, (_, i) => `a${i + 1}`);
    const text = key(...params.map((p) => `\u0000${p}\u0000`));
    const parts = text
      .split('\u0000')
      .filter((part) => part !== '')
      .map((part) => (params.includes(part) ? part : `'${part}'`));
    lines.push(
      `function ${lua.name}.${name}(${[lua.prefix, ...params].join(', ')}) return ${[lua.prefix, ...parts].join(' .. ')} end`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** BUCKET_KEYS as Lua: `K.<name>(B, ...)`, B the bucket prefix (the include `keys`). */
export function bucketKeysLua(): string {
  return keysLua(BUCKET_KEYS, {
    name: 'K',
    prefix: 'B',
    source: 'BUCKET_KEYS in keys.ts: the bucket key layout',
  });
}

/** WEBHOOK_KEYS as Lua: `W.<name>(P, ...)`, P the webhook prefix (the include `webhook_keys`). */
export function webhookKeysLua(): string {
  return keysLua(WEBHOOK_KEYS, {
    name: 'W',
    prefix: 'P',
    source: 'WEBHOOK_KEYS in keys.ts: the webhook key layout',
  });
}

/** A bucket: its prefix (what bucket scripts take as ARGV[1]) and its keys. */
export class Bucket {
  constructor(
    readonly n: number,
    readonly prefix: string,
    /** Where the layout that places devices is followed (KeySpace). */
    private readonly space: { readonly layout: BucketLayout },
  ) {}

  /** The version of the layout this pod places devices by (register and credential scripts send it). */
  get layoutVersion(): number {
    return this.space.layout.state.version;
  }

  /** Whether the device's keys are in this bucket, as the layout says now. */
  holds(deviceId: string): boolean {
    return this.space.layout.bucketOf(deviceId) === this.n;
  }

  key<Name extends keyof BucketKeys>(name: Name, ...ids: Parameters<BucketKeys[Name]>): string {
    return this.prefix + (BUCKET_KEYS[name] as (...ids: string[]) => string)(...ids);
  }

  /** The bucket's due set; passed as KEYS[1] so a cluster client routes the script to its slot. */
  get due(): string {
    return this.key('due');
  }

  /** Set while the bucket splits: every script in it answers MOVING (slot_guard.lua spells it too). */
  get fence(): string {
    return `${this.due}:~moving`;
  }
}

export class KeySpace {
  private buckets: readonly Bucket[] = [];
  private current = BucketLayout.initial;

  constructor(readonly prefix: string) {
    this.follow(BucketLayout.initial.state);
  }

  /** The bucket layout this pod follows (layout-follower.ts keeps it the one in Redis). */
  get layout(): BucketLayout {
    return this.current;
  }
  follow(state: BucketLayoutState): void {
    this.current = new BucketLayout(state);
    const made = this.buckets;
    this.buckets = Array.from(
      { length: this.current.span },
      (_, n) => made[n] ?? new Bucket(n, `${this.prefix}:{b${n}}:`, this),
    );
  }

  bucket(n: number): Bucket {
    const bucket = this.buckets[n];
    if (!bucket) throw new RangeError(`no bucket ${n}`);
    return bucket;
  }
  bucketOfDevice(deviceId: string): Bucket {
    return this.bucket(this.current.bucketOf(deviceId));
  }
  /** Every bucket that may hold keys, in order (while growing: the target's, the old ones first). */
  get allBuckets(): readonly Bucket[] {
    return this.buckets;
  }

  device(deviceId: string): string {
    return this.bucketOfDevice(deviceId).key('device', deviceId);
  }
  delivery(rolloutId: string, deviceId: string): string {
    return this.bucketOfDevice(deviceId).key('delivery', rolloutId, deviceId);
  }

  private global(name: string): string {
    return `${this.prefix}:{g}:${name}`;
  }
  /** Prefix of every patch hash (legacy_import names an existing patch by id). */
  get patchPrefix(): string {
    return this.global('patch:');
  }
  patch(patchId: string): string {
    return `${this.patchPrefix}${patchId}`;
  }
  get patches(): string {
    return this.global('patches');
  }
  /** name@version → patch id. */
  get patchNames(): string {
    return this.global('patchnames');
  }
  /** Prefix of every rollout hash (patch_delete checks live rollouts by id). */
  get rolloutPrefix(): string {
    return this.global('rollout:');
  }
  rollout(rolloutId: string): string {
    return `${this.rolloutPrefix}${rolloutId}`;
  }
  get rollouts(): string {
    return this.global('rollouts');
  }
  get rolloutSeq(): string {
    return this.global('seq:rollout');
  }
  /** Rollouts whose attach has not reached every bucket yet (the pods share it in the background). */
  get attaching(): string {
    return this.global('attaching');
  }
  /** A rollout's attach, shared by the pods: the next bucket never claimed, and the span. */
  attachJob(rolloutId: string): string {
    return this.global(`attach:${rolloutId}`);
  }
  /** Bucket → lease expiry: buckets of a rollout a pod is attaching. */
  attachLeases(rolloutId: string): string {
    return this.global(`attach:${rolloutId}:leases`);
  }
  /** The buckets a rollout is attached in, while its attach runs. */
  attachedBuckets(rolloutId: string): string {
    return this.global(`attach:${rolloutId}:done`);
  }
  /** Rollouts that ended (canceled, aborted, a snapshot completed) → when: their deliveries go after the retention. */
  get endedRollouts(): string {
    return this.global('ended');
  }
  /** A rollout's counts over time (list of `at|succeeded|failed|active`, bounded: rollout_sample.lua). */
  rolloutSeries(rolloutId: string): string {
    return this.global(`series:${rolloutId}`);
  }
  /** Rollouts that are active or paused. */
  get liveRollouts(): string {
    return this.global('live');
  }
  /** How many changes rollouts have had, all of them (rollout_transition): pods look at one number. */
  get rolloutRevisions(): string {
    return this.global('revs');
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
  /** How many entries of the original's `patch_files` list are imported (legacy migration). */
  get legacyImported(): string {
    return this.global('legacy:patch-files-imported');
  }
  /** Artifact sha256 → "sha1,md5" (DDI agents want both; computed once). */
  get ddiHashes(): string {
    return this.global('ddi-hashes');
  }
  /** Pod instance → lease expiry. */
  get nodes(): string {
    return this.global('nodes');
  }
  /** Pod instance → devices it holds, as the pod counts them (written when it changes, and each beat). */
  get nodeDevices(): string {
    return this.global('node-devices');
  }
  /** The bucket layout: count, target and version (bucket-layout.ts), and the buckets split so far. */
  get bucketLayout(): string {
    return this.global('layout');
  }
  get bucketLayoutSplit(): string {
    return this.global('layout:split');
  }
  /** Pod instance → the layout version it follows (a split waits for every live pod to follow it). */
  get nodeLayout(): string {
    return this.global('node-layout');
  }

  /** Prefix of the webhook keys (what webhook scripts take as ARGV[1]). */
  get webhookPrefix(): string {
    return this.global('wh:');
  }
  /** A webhook key (WEBHOOK_KEYS). */
  webhook<Name extends keyof WebhookKeys>(name: Name, ...ids: Parameters<WebhookKeys[Name]>): string {
    return this.webhookPrefix + (WEBHOOK_KEYS[name] as (...ids: string[]) => string)(...ids);
  }

  /**
   * Failed logins from one source address, and from it for one claimed identity (a digest): both
   * under the address's own hash tag, so one script counts both in one slot.
   */
  authFailures(address: string, identityDigest: string): { address: string; identity: string } {
    const tag = `${this.prefix}:{auth:${address}}`;
    return { address: `${tag}:n`, identity: `${tag}:id:${identityDigest}` };
  }

  hintChannel(instance: string): string {
    return `${this.prefix}:hint:${instance}`;
  }
  get broadcastChannel(): string {
    return `${this.prefix}:hint:*all*`;
  }
}
