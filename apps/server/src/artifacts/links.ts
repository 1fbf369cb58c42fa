import { type ArtifactUrl, type ArtifactUrlInput, FleetError, type Offer } from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import type { Logger } from 'pino';
import { parseDeliveryId } from '../fleet/ids.js';
import { artifactUrl } from '../fleet/patches.js';
import type { KeySpace } from '../redis/keys.js';
import { pipelineValues } from '../redis/pipeline.js';
import type { PresignConfig } from './config.js';
import type { ArtifactStorage } from './storage.js';

/** States in which a device may fetch its attempt's artifact: the pod-served download's rule too. */
const FETCHABLE: ReadonlySet<string> = new Set(['offered', 'downloading', 'installing']);

/** The device's current attempt, as Redis has it now. */
interface CurrentAttempt {
  rolloutId: string;
  state: string;
  attempt: number;
  deadline: number;
  sha256: string | null;
  /** The delta offered for the version the device runs, if its rollout has one. */
  deltaSha256: string | null;
}

export interface ArtifactLinksDeps {
  redis: RedisClient;
  keys: KeySpace;
  log: Logger;
  storage: ArtifactStorage | null;
  presign: PresignConfig;
  now?: () => number;
}

/**
 * Download URLs for devices. With a store that presigns (and presigning on), a device gets a
 * short-lived URL of the object store for exactly its attempt's artifact, issued only after the
 * same check as the pod-served download (its current attempt, offered/downloading/installing);
 * the bytes then never pass through a pod. Otherwise it gets the pod's `/artifacts/<sha256>`.
 */
export class ArtifactLinks {
  private readonly now: () => number;

  constructor(private readonly deps: ArtifactLinksDeps) {
    this.now = deps.now ?? Date.now;
  }

  get presigning(): boolean {
    return this.deps.presign.enabled && this.deps.storage?.presign !== undefined;
  }

  /** The offer as pushed: its artifact's (and delta's) URL presigned when presigning is on and the device may fetch it. */
  async forOffer(deviceId: string, offer: Offer): Promise<Offer> {
    const { artifact, delta } = offer.patch;
    if (!artifact || !this.presigning) return offer;
    try {
      const current = await this.current(deviceId);
      if (!current || !this.fetchable(current, offer.rolloutId, offer.attempt, artifact.sha256)) return offer;
      const { url } = await this.sign(artifact.sha256, current.deadline);
      const deltaUrl =
        delta && current.deltaSha256 === delta.sha256
          ? (await this.sign(delta.sha256, current.deadline)).url
          : null;
      return {
        ...offer,
        patch: {
          ...offer.patch,
          artifact: { ...artifact, url },
          delta: delta && deltaUrl ? { ...delta, url: deltaUrl } : delta,
        },
      };
    } catch (err) {
      // The pod URL still works: an offer is never held back for want of a signature.
      this.deps.log.warn({ err, deviceId, deliveryId: offer.deliveryId }, 'artifact URL not presigned');
      return offer;
    }
  }

  /** device.artifactUrl: refused like a report when the attempt is not current, and when it may not fetch. */
  async forAttempt(deviceId: string, input: ArtifactUrlInput): Promise<ArtifactUrl> {
    const ids = parseDeliveryId(input.deliveryId);
    if (!ids) throw new FleetError('NOT_FOUND', `no delivery ${input.deliveryId}`);
    if (ids.deviceId !== deviceId)
      throw new FleetError('FORBIDDEN', 'a device fetches only its own deliveries');
    const current = await this.current(deviceId, ids.rolloutId);
    if (!current) throw new FleetError('NOT_FOUND', `no delivery ${input.deliveryId}`);
    if (current.attempt !== input.attempt && FETCHABLE.has(current.state))
      throw new FleetError(
        'STALE_ATTEMPT',
        `attempt ${input.attempt} is not the current attempt ${current.attempt}`,
      );
    if (!current.sha256 || !this.fetchable(current, ids.rolloutId, input.attempt, current.sha256))
      throw new FleetError('FORBIDDEN', 'artifact not available to these credentials');
    if (current.deadline <= this.now())
      throw new FleetError('STALE_ATTEMPT', `attempt ${input.attempt} timed out; wait for the next offer`);
    const sha256 = input.delta ? current.deltaSha256 : current.sha256;
    if (!sha256) throw new FleetError('NOT_FOUND', `attempt ${input.attempt} was offered no delta`);
    if (!this.presigning) return { url: artifactUrl(sha256), expiresAt: null };
    return this.sign(sha256, current.deadline);
  }

  /** The pod-served download's rule: the artifact (or delta) of the device's attempt in flight. */
  async mayFetch(deviceId: string, sha256: string): Promise<boolean> {
    const current = await this.current(deviceId);
    return current !== null && this.fetchable(current, current.rolloutId, current.attempt, sha256);
  }

  /** DDI: a presigned URL for the artifact, if presigning is on and it is the device's to fetch now. */
  async presignedFor(deviceId: string, sha256: string): Promise<string | null> {
    if (!this.presigning) return null;
    const current = await this.current(deviceId);
    if (!current || !this.fetchable(current, current.rolloutId, current.attempt, sha256)) return null;
    return (await this.sign(sha256, current.deadline)).url;
  }

  private fetchable(current: CurrentAttempt, rolloutId: string, attempt: number, sha256: string): boolean {
    return (
      current.rolloutId === rolloutId &&
      current.attempt === attempt &&
      FETCHABLE.has(current.state) &&
      current.sha256 !== null &&
      (current.sha256 === sha256 || current.deltaSha256 === sha256)
    );
  }

  /** Signed for the configured lifetime, but never past the attempt's deadline (at least 1 s). */
  private async sign(sha256: string, deadline: number): Promise<ArtifactUrl> {
    const storage = this.deps.storage;
    if (!storage?.presign) throw new Error('the artifact store cannot presign');
    const now = this.now();
    const seconds = Math.max(1, Math.min(this.deps.presign.ttlSeconds, Math.floor((deadline - now) / 1000)));
    return { url: await storage.presign(sha256, seconds), expiresAt: now + seconds * 1000 };
  }

  /**
   * The device's delivery of `rolloutId` (default: its active one), with its rollout's artifact.
   * Null when there is none. `rolloutId` differs from the active one only for a delivery that left.
   */
  private async current(deviceId: string, rolloutId?: string): Promise<CurrentAttempt | null> {
    const { keys, redis } = this.deps;
    const [active, firmware] = await redis.hmget(keys.device(deviceId), 'active', 'firmware');
    const wanted = rolloutId ?? active;
    if (!wanted) return null;
    // Both in one round trip: a fleet downloading at once asks this once per request.
    const [fields, files] = pipelineValues(
      await redis
        .pipeline()
        .hmget(keys.delivery(wanted, deviceId), 'state', 'attempt', 'deadline')
        .hmget(keys.bucketOfDevice(deviceId).key('rollout', wanted), 'artifact', `deltaSha:${firmware ?? ''}`)
        .exec(),
    );
    const [state, attempt, deadline] = Array.isArray(fields) ? fields : [];
    const [artifact, deltaSha256] = Array.isArray(files) ? files : [];
    if (typeof state !== 'string') return null;
    return {
      // Not the active delivery: whatever its state says, it is not being worked on.
      rolloutId: active === wanted ? wanted : '',
      state,
      attempt: Number(attempt),
      deadline: Number(deadline),
      sha256:
        typeof artifact === 'string' && artifact ? (JSON.parse(artifact) as { sha256: string }).sha256 : null,
      deltaSha256: typeof deltaSha256 === 'string' && deltaSha256 ? deltaSha256 : null,
    };
  }
}
