import type { ArtifactRef, DeltaRef, Offer } from '@camfleet/contracts';
import { type DeviceContext, refOf } from './context.js';
import type { DeviceOptions } from './device.js';
import { artifactMismatch, authorizationOf, DownloadError, downloadArtifact } from './download.js';
import { cutOffsets } from './faults.js';
import { applyZstdPatch, type ImageStore } from './images.js';
import { ProgressSender, ProgressThrottle } from './progress.js';
import { checkSignature, type SignaturePolicy } from './signatures.js';

/** How getting the artifact went: `verified`, the bytes are the offer's; `stopped`, a progress report was refused. */
export type Fetched = { kind: 'verified' } | { kind: 'failed'; error: string } | { kind: 'stopped' };

export interface ArtifactOptions
  extends Pick<DeviceOptions, 'downloadProgressMs' | 'downloadStallMs' | 'downloadStallWatch'> {
  signatures: SignaturePolicy;
  /** Where the device keeps the images it runs (absent: it keeps none, and never uses a delta). */
  images?: ImageStore;
}

/** Which file of an offer: its full artifact, or its delta. */
export type OfferFile = 'artifact' | 'delta';

/** Where the device downloads from, and as whom: both asked per request. */
export interface ArtifactSource {
  /** The pod it is connected to (it may have failed over since the download began). */
  baseUrl: () => string;
  /** Its own secret: one rotated meanwhile (4001, re-checked) is the one to use. */
  secret: () => string | null;
  /** A fresh URL for the offer's artifact or delta from the server (device.artifactUrl): a presigned one expired. */
  refreshUrl?: (offer: Offer, file: OfferFile, signal: AbortSignal) => Promise<string>;
}

/** Sends a `downloading` report; false if the server refused it. Throws once the attempt aborts. */
export type DownloadProgress = (percent: number, bytes: number) => Promise<boolean>;

/**
 * An offer's artifact on the device (spec: "Download and verify"): its manifest's Ed25519 signature
 * checked against the trusted keys, then its bytes downloaded from the pod (resuming with Range
 * after interruptions) and checked against the signed sha256 and size.
 */
export class Artifacts {
  constructor(
    private readonly ctx: DeviceContext,
    private readonly source: ArtifactSource,
    private readonly options: ArtifactOptions,
  ) {}

  /**
   * Why the offer's signature is refused, or null. Checked first, from the offer alone: nothing
   * refused is downloaded. The download then proves the bytes are the ones whose sha256 and size
   * were signed.
   */
  signatureRefusal(offer: Offer): string | null {
    const signature = checkSignature(offer.patch, this.options.signatures);
    if (signature.ok) return null;
    this.ctx.counters.signatureRefusals++;
    return signature.error;
  }

  /**
   * Downloads the artifact, hashing it as it streams, with throttled `downloading` reports (up to
   * 50%: the rest is the install's); then checks its sha256 and size. `cuts`: fractions of the file
   * at which the simulator cuts its own connection (--drop-download-rate). Throws once `steps` aborts.
   * A device that keeps its images stores the verified bytes as the image it will run.
   */
  async download(
    offer: Offer,
    artifact: ArtifactRef,
    cuts: readonly number[],
    steps: AbortSignal,
    progress: DownloadProgress,
  ): Promise<Fetched> {
    const { images } = this.options;
    const scratch = images?.scratch();
    const fetched = await this.fetch(offer, artifact, 'artifact', cuts, steps, progress, scratch).catch(
      async (error: unknown) => {
        if (scratch) await images?.discard(scratch);
        throw error;
      },
    );
    if (images && scratch) {
      if (fetched.kind === 'verified') await images.keep(scratch, artifact.sha256);
      else await images.discard(scratch);
    }
    return fetched;
  }

  /**
   * The offer's delta, if this device can use it: it keeps its images, runs the delta's base version,
   * and has that image.
   */
  async usableDelta(offer: Offer): Promise<DeltaRef | null> {
    const { delta } = offer.patch;
    const { images } = this.options;
    const { firmware } = this.ctx;
    if (!delta || !images || firmware.image === null || delta.fromVersion !== firmware.version) return null;
    return (await images.has(firmware.image)) ? delta : null;
  }

  /**
   * Downloads the delta (progress reported like a download) and applies it to the running image; the
   * result must be the offer's artifact, byte for byte (sha256 and size: what the signature covers),
   * and is kept as the image the device will run. `failed`: the caller falls back to the full artifact.
   */
  async fromDelta(
    offer: Offer,
    delta: DeltaRef,
    steps: AbortSignal,
    progress: DownloadProgress,
  ): Promise<Fetched> {
    const { images } = this.options;
    const artifact = offer.patch.artifact;
    const image = this.ctx.firmware.image;
    if (!images || !artifact || image === null)
      return { kind: 'failed', error: 'no image to apply a delta to' };
    const deltaFile = images.scratch();
    const rebuiltFile = images.scratch();
    try {
      const fetched = await this.fetch(offer, delta, 'delta', [], steps, progress, deltaFile);
      if (fetched.kind !== 'verified') return fetched;
      const rebuilt = await applyZstdPatch(images.pathOf(image), deltaFile, rebuiltFile, steps).catch(
        (error: unknown) => {
          steps.throwIfAborted();
          return error instanceof Error ? error.message : String(error);
        },
      );
      if (typeof rebuilt === 'string') return { kind: 'failed', error: `delta not applied: ${rebuilt}` };
      const mismatch = artifactMismatch(artifact, { ...rebuilt, overflow: false });
      if (mismatch !== null) return { kind: 'failed', error: `delta rebuilt the wrong image: ${mismatch}` };
      await images.keep(rebuiltFile, artifact.sha256);
      return { kind: 'verified' };
    } finally {
      await Promise.all([images.discard(deltaFile), images.discard(rebuiltFile)]);
    }
  }

  /** Downloads one file of the offer (optionally saving it), then checks its sha256 and size. */
  private async fetch(
    offer: Offer,
    artifact: ArtifactRef,
    file: OfferFile,
    cuts: readonly number[],
    steps: AbortSignal,
    progress: DownloadProgress,
    saveTo: string | undefined,
  ): Promise<Fetched> {
    if (this.source.secret() === null) {
      return { kind: 'failed', error: 'download failed: no secret to authenticate with' };
    }
    // A refused progress report ends the download (the attempt stops, as for any refused report).
    const refused = new AbortController();
    const signal = AbortSignal.any([steps, refused.signal]);
    const throttle = new ProgressThrottle(artifact.size, { intervalMs: this.options.downloadProgressMs });
    const reports = new ProgressSender(async (bytes) => {
      const percent = artifact.size === 0 ? 50 : Math.min(50, Math.floor((50 * bytes) / artifact.size));
      try {
        if (!(await progress(percent, bytes))) refused.abort();
      } catch {
        // steps aborted: the download sees it too
      }
    }, signal);
    const { counters } = this.ctx;
    let result: Awaited<ReturnType<typeof downloadArtifact>>;
    try {
      result = await downloadArtifact({
        artifact,
        ...(saveTo === undefined ? {} : { saveTo }),
        baseUrl: () => this.source.baseUrl(),
        authorization: () => authorizationOf(this.ctx.id, this.source.secret() ?? ''),
        signal,
        cuts: cutOffsets(cuts, artifact.size),
        backoff: this.ctx.backoff,
        ...(this.options.downloadStallMs === undefined ? {} : { stallMs: this.options.downloadStallMs }),
        ...(this.options.downloadStallWatch ? { watchStall: this.options.downloadStallWatch } : {}),
        onBytes: (received, delta) => {
          counters.downloadBytes += delta;
          if (throttle.due(received)) reports.push(received);
        },
        ...(this.source.refreshUrl
          ? {
              refreshUrl: () =>
                this.source.refreshUrl?.(offer, file, signal) ?? Promise.resolve(artifact.url),
            }
          : {}),
        onResume: (from) => {
          counters.downloadResumes++;
          this.ctx.emit({ ...refOf(this.ctx.id, offer), type: 'download-resumed', from });
        },
      });
    } catch (error) {
      await reports.settled();
      steps.throwIfAborted();
      if (refused.signal.aborted) return { kind: 'stopped' };
      if (error instanceof DownloadError) return { kind: 'failed', error: error.message };
      throw error;
    }
    // The last progress report lands before `installing` is sent.
    await reports.settled();
    steps.throwIfAborted();
    if (refused.signal.aborted) return { kind: 'stopped' };
    const mismatch = artifactMismatch(artifact, result);
    if (mismatch !== null) {
      counters.checksumFailures++;
      return { kind: 'failed', error: mismatch };
    }
    return { kind: 'verified' };
  }
}
