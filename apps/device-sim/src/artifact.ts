import type { ArtifactRef, Offer } from '@camfleet/contracts';
import { type DeviceContext, refOf } from './context.js';
import type { DeviceOptions } from './device.js';
import { artifactMismatch, authorizationOf, DownloadError, downloadArtifact } from './download.js';
import { cutOffsets } from './faults.js';
import { ProgressSender, ProgressThrottle } from './progress.js';
import { checkSignature, type SignaturePolicy } from './signatures.js';

/** How getting the artifact went: `verified`, the bytes are the offer's; `stopped`, a progress report was refused. */
export type Fetched = { kind: 'verified' } | { kind: 'failed'; error: string } | { kind: 'stopped' };

export interface ArtifactOptions
  extends Pick<DeviceOptions, 'downloadProgressMs' | 'downloadStallMs' | 'downloadStallWatch'> {
  signatures: SignaturePolicy;
}

/** Where the device downloads from, and as whom: both asked per request. */
export interface ArtifactSource {
  /** The pod it is connected to (it may have failed over since the download began). */
  baseUrl: () => string;
  /** Its own secret: one rotated meanwhile (4001, re-checked) is the one to use. */
  secret: () => string | null;
  /** A fresh URL for the offer's artifact from the server (device.artifactUrl): a presigned one expired. */
  refreshUrl?: (offer: Offer, signal: AbortSignal) => Promise<string>;
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
   */
  async download(
    offer: Offer,
    artifact: ArtifactRef,
    cuts: readonly number[],
    steps: AbortSignal,
    progress: DownloadProgress,
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
              refreshUrl: () => this.source.refreshUrl?.(offer, signal) ?? Promise.resolve(artifact.url),
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
