import { jitteredBackoff } from '@camfleet/client';
import type { Offer, ReportInput } from '@camfleet/contracts';
import { Artifacts, type OfferFile } from './artifact.js';
import { DeviceAuth } from './auth.js';
import type { DeviceContext, OfferRef } from './context.js';
import { type CredentialStore, Credentials } from './credentials.js';
import type { StallWatch } from './download.js';
import { DEFAULT_FAULTS, type FaultOptions, type Random } from './faults.js';
import type { InstallHold } from './hold.js';
import type { ImageStore } from './images.js';
import { Installer } from './install.js';
import { DeliveryLedger, type OfferDecision } from './ledger.js';
import { Offers } from './offers.js';
import { Reports } from './reports.js';
import { Session } from './session.js';
import { NO_SIGNATURE_POLICY, type SignaturePolicy } from './signatures.js';
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
  /** Where it keeps the images it runs, so that it can apply deltas (default: it keeps none). */
  images?: ImageStore;
  /** The sha256 of the image it starts on, kept in `images`. */
  firmwareImage?: string;
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
  /** The offer's delta failed to download or apply: the full artifact comes instead. */
  | (OfferRef & { type: 'delta-failed'; error: string })
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

/**
 * One simulated camera, wired from its parts along the device protocol spec: its sessions
 * (session.ts: connect, enroll, register, reconnect), the offers it is pushed and the reports it
 * sends (offers.ts, reports.ts), getting and checking artifacts (artifact.ts) and installing them
 * (install.ts), with the simulator's faults (faults.ts) drawn along the way.
 */
export class SimulatedDevice {
  readonly id: string;
  readonly counters: DeviceCounters = emptyCounters();
  /** Aborted by stop(), or when the session stops for good: ends every sleep and retry loop. */
  private readonly lifetime = new AbortController();
  private readonly firmware: { version: string; image: string | null };
  private readonly session: Session;
  private readonly reports: Reports;
  private readonly offers: Offers;

  constructor(private readonly options: DeviceOptions) {
    if (options.urls.length === 0) throw new Error('a device needs at least one URL');
    this.id = options.id;
    this.firmware = { version: options.firmwareVersion, image: options.firmwareImage ?? null };
    const faults = { ...DEFAULT_FAULTS, ...options.faults };
    const random = options.random ?? Math.random;
    const backoff = options.backoff ?? { baseMs: 250, maxMs: 10_000 };
    // Drawn first, so a seeded `random` gives the same fleet as ever.
    const slow = random() < faults.slowRate;
    const ctx: DeviceContext = {
      id: this.id,
      firmware: this.firmware,
      counters: this.counters,
      faults,
      random,
      backoff: jitteredBackoff(backoff.baseMs, backoff.maxMs),
      lifetime: this.lifetime.signal,
      emit: (event) => this.options.onEvent?.(event),
    };
    const ledger = new DeliveryLedger();
    const auth = new DeviceAuth(
      ctx,
      options.credentials ?? Credentials.inMemory(),
      options.enrollToken ?? null,
    );
    this.session = new Session(ctx, this.lifetime, auth, {
      ...options,
      onServerEvent: (event) => this.offers.handle(event),
    });
    this.reports = new Reports(ctx, this.session);
    const source = {
      baseUrl: () => this.session.baseUrl(),
      secret: () => auth.secret(),
      refreshUrl: async (offer: Offer, file: OfferFile, signal: AbortSignal) => {
        const connection = await this.session.ready(signal);
        signal.throwIfAborted();
        if (!connection) throw new Error('no connection to ask for a fresh URL');
        const fresh = await connection.client.device.artifactUrl.mutate(
          {
            deliveryId: offer.deliveryId,
            attempt: offer.attempt,
            ...(file === 'delta' ? { delta: true } : {}),
          },
          { signal },
        );
        return fresh.url;
      },
    };
    const artifacts = new Artifacts(ctx, source, {
      ...options,
      signatures: options.signatures ?? NO_SIGNATURE_POLICY,
    });
    const parts = { session: this.session, reports: this.reports, ledger, artifacts };
    const installer = new Installer(ctx, parts, { ...options, slow });
    this.offers = new Offers(ctx, ledger, this.reports, (work) => installer.run(work));
  }

  get state(): DeviceState {
    return this.session.state;
  }

  get firmwareVersion(): string {
    return this.firmware.version;
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
      firmwareVersion: this.firmwareVersion,
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
}
