// Over 400 lines: one camera's connection lifecycle and install pipeline; split along the device protocol spec (#18).
import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredBackoff } from '@camfleet/client';
import type { ArtifactRef, Offer, ReportInput } from '@camfleet/contracts';
import { DeviceAuth } from './auth.js';
import { type DeviceContext, type OfferRef, refOf } from './context.js';
import { type CredentialStore, Credentials } from './credentials.js';
import {
  artifactMismatch,
  authorizationOf,
  DownloadError,
  downloadArtifact,
  type StallWatch,
} from './download.js';
import {
  cutOffsets,
  DEFAULT_FAULTS,
  type FaultOptions,
  type InstallPlan,
  planInstall,
  type Random,
} from './faults.js';
import type { InstallHold } from './hold.js';
import { DeliveryLedger, type OfferDecision } from './ledger.js';
import { Offers, type Work } from './offers.js';
import { ProgressThrottle } from './progress.js';
import { Reports } from './reports.js';
import { Session } from './session.js';
import { checkSignature, NO_SIGNATURE_POLICY, type SignaturePolicy } from './signatures.js';
import { type DeviceCounters, type DeviceSnapshot, emptyCounters } from './summary.js';

export interface DeviceOptions {
  id: string;
  /** Pod base URLs in fail-over order: the device starts on the first and moves on at each disconnect. */
  urls: readonly string[];
  /**
   * Its secret, and where a secret obtained by enrolling is kept (default: in memory, empty).
   * With a secret there, the device connects with it.
   */
  credentials?: CredentialStore;
  /** Without a secret: connect with this enrollment token, enroll, then reconnect with the secret. */
  enrollToken?: string | null;
  model: string;
  firmwareVersion: string;
  labels?: Record<string, string>;
  faults?: Partial<FaultOptions>;
  /** Trusted publisher keys and whether a valid signature is required (default: none, not required). */
  signatures?: SignaturePolicy;
  /** Keeps each install between its `installing` report and the apply until released (tests). */
  installHold?: InstallHold;
  /**
   * Keeps an install that crashed mid-apply (--crash-rate) from finishing its apply until released,
   * so a test sees the device come back (and be re-offered the attempt) before it reports (tests).
   */
  afterCrashHold?: InstallHold;
  /** `downloading` progress reports during an artifact download: at most this often, besides each 25%. Default 1s. */
  downloadProgressMs?: number;
  /** A download connection silent this long is cut and resumed. Default 30s. */
  downloadStallMs?: number;
  /** Says when a download connection stalled, instead of `downloadStallMs` of silence (tests). */
  downloadStallWatch?: StallWatch;
  /** Reconnect and retry backoff (full jitter). Defaults: 250ms doubling up to 10s. */
  backoff?: { baseMs: number; maxMs: number };
  connectTimeoutMs?: number;
  /** The local (source) address its sockets bind to, e.g. 127.0.0.3: one address has ~28k ports. */
  localAddress?: string;
  random?: Random;
  onEvent?: (event: DeviceEvent) => void;
}

export type DeviceState =
  | 'new'
  | 'enrolling'
  | 'connecting'
  | 'online'
  | 'offline'
  /** Stopped for good: the server refused its credentials. */
  | 'rejected'
  /** Stopped for good: a newer connection of the same device replaced it (close code 4002). */
  | 'replaced'
  | 'failed'
  | 'stopped';

export type DeviceEvent =
  | { type: 'connected'; deviceId: string; url: string }
  /** The server started its offer subscription: from now on it is pushed work. */
  | { type: 'subscribed'; deviceId: string; url: string }
  | { type: 'disconnected'; deviceId: string; url: string; reason: string }
  | { type: 'rejected'; deviceId: string; message: string }
  /** Traded the enrollment token for its own secret. */
  | { type: 'enrolled'; deviceId: string }
  | { type: 'replaced'; deviceId: string; message: string }
  /** Something worth telling that does not stop the device. */
  | { type: 'warning'; deviceId: string; message: string }
  | { type: 'fatal'; deviceId: string; message: string }
  | { type: 'crash'; deviceId: string }
  | (OfferRef & { type: 'offer'; decision: OfferDecision['kind'] })
  | (OfferRef & { type: 'install-started'; version: string })
  | (OfferRef & { type: 'install-done'; version: string })
  | (OfferRef & { type: 'install-failed'; error: string })
  | (OfferRef & { type: 'install-hung'; version: string })
  /** An artifact download was interrupted and resumes from byte `from`. */
  | (OfferRef & { type: 'download-resumed'; from: number })
  | (OfferRef & { type: 'install-canceled' })
  /** Back from the restart after `installed`, running `version` (the old one if it rolled back). */
  | (OfferRef & { type: 'rebooted'; version: string; rolledBack: boolean })
  | (OfferRef & { type: 'cancel'; decision: CancelDecision; reason: string })
  | (OfferRef & { type: 'report-rejected'; status: ReportInput['status']; reason: string });

/** What the device did with a cancel request: honoured it, refused it (too late), or had nothing to cancel. */
export type CancelDecision = 'accepted' | 'refused' | 'ignored';

/** A delivery this device finished working on, however it ended. */
export interface CompletedDelivery {
  deliveryId: string;
  rolloutId: string;
  attempt: number;
  patchVersion: string;
  /**
   * `succeeded`: reported `succeeded`, running the patch without a restart (--no-reboot).
   * `installed`: reported `installed`, restarted and registered running the patch's version.
   * `rolled-back`: reported `installed`, but came back from the restart on the old version.
   * `canceled`: stopped on the server's request and reported `canceled`.
   * `hung`: the attempt went silent after `installing` (--hang-rate); the server times it out.
   */
  outcome: 'succeeded' | 'installed' | 'rolled-back' | 'failed' | 'canceled' | 'rejected' | 'hung';
  /** Why the server refused a report, for `rejected`; why the install failed, for `failed`. */
  reason?: string;
  at: number;
}

export interface DeviceRecord extends DeviceSnapshot {
  id: string;
  state: DeviceState;
  url: string | null;
  /** Why it stopped for good (refused credentials, replaced, a fatal refusal), if it did. */
  rejection: string | null;
  completed: CompletedDelivery[];
}

/** How downloading and applying went: `stopped` when a progress report was refused or the attempt hung. */
type Applied = { kind: 'applied' } | { kind: 'failed'; error: string } | { kind: 'stopped' };

const FAILURE_MESSAGE = 'simulated install failure';

/**
 * One simulated camera: a WebSocket session to a pod (failing over to the next pod when it goes),
 * registration on every session, the offers subscription, and idempotent install simulation.
 */
export class SimulatedDevice {
  readonly id: string;
  readonly counters: DeviceCounters = emptyCounters();
  private firmware: string;
  private readonly faults: FaultOptions;
  private readonly signatures: SignaturePolicy;
  private readonly random: Random;
  private readonly backoff: (attempt: number) => number;
  private readonly slow: boolean;
  private readonly ledger = new DeliveryLedger();
  /** Aborted by stop(), or when the session stops for good: ends every sleep and retry loop. */
  private readonly lifetime = new AbortController();
  private readonly auth: DeviceAuth;
  private readonly session: Session;
  private readonly reports: Reports;
  private readonly offers: Offers;

  constructor(private readonly options: DeviceOptions) {
    if (options.urls.length === 0) throw new Error('a device needs at least one URL');
    this.id = options.id;
    this.firmware = options.firmwareVersion;
    this.faults = { ...DEFAULT_FAULTS, ...options.faults };
    this.signatures = options.signatures ?? NO_SIGNATURE_POLICY;
    this.random = options.random ?? Math.random;
    const backoff = options.backoff ?? { baseMs: 250, maxMs: 10_000 };
    this.backoff = jitteredBackoff(backoff.baseMs, backoff.maxMs);
    this.slow = this.random() < this.faults.slowRate;
    const ctx: DeviceContext = {
      id: this.id,
      counters: this.counters,
      faults: this.faults,
      random: this.random,
      backoff: this.backoff,
      lifetime: this.lifetime.signal,
      emit: (event) => this.emit(event),
    };
    const credentials = options.credentials ?? Credentials.inMemory();
    this.auth = new DeviceAuth(ctx, credentials, options.enrollToken ?? null);
    this.session = new Session(ctx, this.lifetime, this.auth, {
      ...options,
      firmware: () => this.firmware,
      onServerEvent: (event) => this.offers.handle(event),
    });
    this.reports = new Reports(ctx, this.session);
    this.offers = new Offers(ctx, this.ledger, this.reports, (work) => this.install(work));
  }

  get state(): DeviceState {
    return this.session.state;
  }

  get firmwareVersion(): string {
    return this.firmware;
  }

  /** Registered on a live connection. */
  get connected(): boolean {
    return this.session.connected;
  }

  get rejected(): boolean {
    return this.state === 'rejected';
  }

  /**
   * Reconnects (and network blips) waiting for their time. None once stopped for good: tests read
   * it to know nothing more can happen, instead of waiting to see that nothing does.
   */
  get scheduled(): number {
    return this.session.scheduled;
  }

  /** Attempts being installed plus final reports being re-sent. */
  get busy(): number {
    return this.offers.busy;
  }

  record(): DeviceRecord {
    return {
      id: this.id,
      state: this.state,
      url: this.session.url,
      firmwareVersion: this.firmware,
      connected: this.connected,
      rejected: this.rejected,
      rejection: this.session.rejection,
      counters: { ...this.counters },
      completed: [...this.reports.completed],
    };
  }

  start(): void {
    this.session.start();
  }

  /** Closes the connection and abandons all work. */
  async stop(): Promise<void> {
    await this.session.stop();
  }

  /** Simulates a crash: drop the connection, forget the subscription position, come back later. */
  crash(): void {
    this.session.crash();
  }

  /** Simulates a network blip: drop the connection and fail over at once. */
  disconnect(): void {
    this.session.disconnect();
  }

  // ── offers, cancels and installs ────────────────────────────────────────────

  private async install(work: Work): Promise<void> {
    const { offer } = work;
    // `signal` abandons the attempt (superseded, device stopped); `steps` also ends on a cancel.
    const signal = AbortSignal.any([work.controller.signal, this.lifetime.signal]);
    const steps = AbortSignal.any([signal, work.cancel.signal]);
    this.counters.installsStarted++;
    const ref = refOf(this.id, offer);
    this.emit({ ...ref, type: 'install-started', version: offer.patch.version });
    const plan = planInstall(this.faults, this.slow, this.random);
    const base = { deliveryId: offer.deliveryId, attempt: offer.attempt };
    const version = offer.patch.version;
    let finalReport: ReportInput | null = null;
    try {
      const applied = await this.apply(work, plan, steps);
      if (applied.kind === 'stopped') return;
      work.phase = 'reporting';
      if (applied.kind === 'failed') {
        finalReport = { ...base, status: 'failed', error: applied.error };
      } else if (this.faults.reboot) {
        finalReport = { ...base, status: 'installed', progress: 100 };
      } else {
        // Applied in place: it runs the patch now.
        this.firmware = version;
        finalReport = { ...base, status: 'succeeded', progress: 100, firmwareVersion: version };
      }
      const outcome = await this.reports.send(finalReport, signal, offer);
      if (outcome.kind !== 'landed') {
        // Refused: the staged image is discarded (with a restart ahead, it never runs).
        finalReport = null;
        return;
      }
      if (applied.kind === 'failed') {
        this.counters.installsFailed++;
        this.reports.complete(offer, 'failed', applied.error);
        this.emit({ ...ref, type: 'install-failed', error: applied.error });
        return;
      }
      this.counters.installsDone++;
      this.ledger.markAccepted(offer.deliveryId, offer.attempt);
      this.emit({ ...ref, type: 'install-done', version });
      if (finalReport.status === 'succeeded') {
        this.reports.complete(offer, 'succeeded');
        return;
      }
      // The server now waits for the device to prove the version by registering with it.
      work.phase = 'rebooting';
      const running = await this.reboot(offer, plan.rollsBack, signal);
      if (running === null) return;
      this.reports.complete(offer, plan.rollsBack ? 'rolled-back' : 'installed');
      this.emit({ ...ref, type: 'rebooted', version: running, rolledBack: plan.rollsBack });
    } catch (error) {
      if (!steps.aborted) throw error;
      finalReport = signal.aborted ? null : await this.reportCanceled(work, signal);
    } finally {
      work.end(finalReport);
    }
  }

  /**
   * Checks the signature, downloads (the artifact, verified; or a simulated wait without one) and
   * applies, reporting progress. `stopped`: a progress report was refused, or the attempt hung.
   * Throws once `steps` aborts (superseded, stopped, or a cancel honoured).
   */
  private async apply(work: Work, plan: InstallPlan, steps: AbortSignal): Promise<Applied> {
    const { offer } = work;
    // Checked first, from the offer alone: nothing refused is downloaded. The download then proves
    // the bytes are the ones whose sha256 and size were signed.
    const signature = checkSignature(offer.patch, this.signatures);
    if (!signature.ok) {
      this.counters.signatureRefusals++;
      return { kind: 'failed', error: signature.error };
    }
    const progress = async (
      status: 'downloading' | 'installing',
      percent: number,
      bytes?: number,
    ): Promise<boolean> => {
      const input: ReportInput = {
        deliveryId: offer.deliveryId,
        attempt: offer.attempt,
        status,
        progress: percent,
        ...(bytes === undefined ? {} : { bytes }),
      };
      const outcome = await this.reports.send(input, steps, offer);
      if (outcome.kind === 'aborted') steps.throwIfAborted();
      return outcome.kind === 'landed';
    };
    const { artifact } = offer.patch;
    // A phase is reported when it takes time, as a camera's updater would: an instant install of
    // a patch without a file goes straight to its outcome (one report instead of three).
    const downloads = artifact !== null || plan.downloadMs > 0;
    const applies =
      plan.applyMs > 0 || plan.hangs || plan.crashAtMs !== null || this.options.installHold !== undefined;
    if (downloads && !(await progress('downloading', 0, artifact ? 0 : undefined)))
      return { kind: 'stopped' };
    if (artifact) {
      const downloaded = await this.download(work, artifact, plan, steps, progress);
      if (downloaded.kind !== 'applied') return downloaded;
    } else {
      await sleep(plan.downloadMs, undefined, { signal: steps });
    }
    work.phase = 'installing';
    if (applies && !(await progress('installing', 50))) return { kind: 'stopped' };
    if (plan.hangs) {
      // Stuck in the updater: nothing more is reported for this attempt (a re-offer of it, or a
      // cancel, is ignored). It stays busy until the server's ack timeout should have failed it,
      // or a newer attempt supersedes it; it was never installed, so that one is no repeat.
      work.phase = 'hung';
      this.counters.installsHung++;
      this.reports.complete(offer, 'hung');
      const ref = refOf(this.id, offer);
      this.emit({ ...ref, type: 'install-hung', version: offer.patch.version });
      await sleep(offer.ackTimeoutMs, undefined, { signal: steps });
      return { kind: 'stopped' };
    }
    await this.options.installHold?.(steps);
    if (plan.crashAtMs !== null) {
      await sleep(plan.crashAtMs, undefined, { signal: steps });
      this.session.crash();
      await this.options.afterCrashHold?.(steps);
      await sleep(plan.applyMs - plan.crashAtMs, undefined, { signal: steps });
    } else {
      await sleep(plan.applyMs, undefined, { signal: steps });
    }
    return plan.fails ? { kind: 'failed', error: FAILURE_MESSAGE } : { kind: 'applied' };
  }

  /**
   * Downloads the artifact from the pod this device is connected to (with its own secret),
   * hashing it as it streams, resuming after interruptions, with throttled `downloading` progress
   * reports; then checks its sha256 and size. `applied` here: the bytes are the offer's.
   */
  private async download(
    work: Work,
    artifact: ArtifactRef,
    plan: InstallPlan,
    steps: AbortSignal,
    progress: (status: 'downloading', percent: number, bytes: number) => Promise<boolean>,
  ): Promise<Applied> {
    const { offer } = work;
    const secretOf = (): string | null => this.auth.secret();
    if (secretOf() === null) {
      return { kind: 'failed', error: 'download failed: no secret to authenticate with' };
    }
    // A refused progress report ends the download (the attempt stops, as for any refused report).
    const refused = new AbortController();
    const signal = AbortSignal.any([steps, refused.signal]);
    const throttle = new ProgressThrottle(artifact.size, { intervalMs: this.options.downloadProgressMs });
    // One progress report in flight at a time; a newer count replaces one not sent yet.
    let queued: number | null = null;
    let pumping = false;
    let sending: Promise<void> = Promise.resolve();
    const pump = async (): Promise<void> => {
      pumping = true;
      try {
        while (queued !== null && !signal.aborted) {
          const bytes = queued;
          queued = null;
          const percent = artifact.size === 0 ? 50 : Math.min(50, Math.floor((50 * bytes) / artifact.size));
          try {
            if (!(await progress('downloading', percent, bytes))) refused.abort();
          } catch {
            // steps aborted: the download sees it too
          }
        }
      } finally {
        pumping = false;
      }
    };
    const ref = refOf(this.id, offer);
    let result: Awaited<ReturnType<typeof downloadArtifact>>;
    try {
      result = await downloadArtifact({
        artifact,
        baseUrl: () => this.session.baseUrl(),
        // Asked per request: a secret rotated meanwhile (4001, re-checked) is the one to use.
        authorization: () => authorizationOf(this.id, secretOf() ?? ''),
        signal,
        cuts: cutOffsets(plan.downloadCuts, artifact.size),
        backoff: this.backoff,
        ...(this.options.downloadStallMs === undefined ? {} : { stallMs: this.options.downloadStallMs }),
        ...(this.options.downloadStallWatch ? { watchStall: this.options.downloadStallWatch } : {}),
        onBytes: (received, delta) => {
          this.counters.downloadBytes += delta;
          if (!throttle.due(received)) return;
          queued = received;
          if (!pumping) sending = pump();
        },
        onResume: (from) => {
          this.counters.downloadResumes++;
          this.emit({ ...ref, type: 'download-resumed', from });
        },
      });
    } catch (error) {
      await sending;
      steps.throwIfAborted();
      if (refused.signal.aborted) return { kind: 'stopped' };
      if (error instanceof DownloadError) return { kind: 'failed', error: error.message };
      throw error;
    }
    // The last progress report lands before `installing` is sent.
    await sending;
    steps.throwIfAborted();
    if (refused.signal.aborted) return { kind: 'stopped' };
    const mismatch = artifactMismatch(artifact, result);
    if (mismatch !== null) {
      this.counters.checksumFailures++;
      return { kind: 'failed', error: mismatch };
    }
    return { kind: 'applied' };
  }

  /** Stops on the server's request and says so; the final report to remember, or null if refused. */
  private async reportCanceled(work: Work, signal: AbortSignal): Promise<ReportInput | null> {
    work.phase = 'canceling';
    const { offer } = work;
    const report: ReportInput = { deliveryId: offer.deliveryId, attempt: offer.attempt, status: 'canceled' };
    // A STALE_ATTEMPT or DELIVERY_FINISHED answer is fine: counted as reportsRejected, as ever.
    const outcome = await this.reports.send(report, signal, offer);
    if (outcome.kind !== 'landed') return null;
    this.reports.complete(offer, 'canceled');
    this.emit({ type: 'install-canceled', ...refOf(this.id, offer) });
    return report;
  }

  /**
   * Restarts into an installed patch: drops the connection, stays away `rebootMs`, then comes back
   * (on the next URL, as after any loss) and registers with the version it runs: the patch's, or
   * the old one when the bootloader rolled back. Resolves to that version, or null if the attempt
   * was abandoned meanwhile (superseded, device stopped).
   */
  private async reboot(offer: Offer, rollsBack: boolean, signal: AbortSignal): Promise<string | null> {
    this.counters.reboots++;
    if (rollsBack) {
      // Marked before going away, so the server's retry offer, however quick, is no repeat.
      this.counters.rollbacks++;
      this.ledger.markRolledBack(offer.deliveryId, offer.attempt);
    } else {
      this.firmware = offer.patch.version;
    }
    const running = this.firmware;
    // The ledger is kept on flash: it survives the restart.
    this.session.restart(this.faults.rebootMs, 'restarting into the new firmware');
    return (await this.session.ready(signal)) ? running : null;
  }

  private emit(event: DeviceEvent): void {
    this.options.onEvent?.(event);
  }
}
