import { type CredentialStore, Credentials } from './credentials.js';
import { type DeviceEvent, type DeviceRecord, SimulatedDevice } from './device.js';
import type { StallWatch } from './download.js';
import type { FaultOptions, Random } from './faults.js';
import type { InstallHold } from './hold.js';
import { deviceIdOf } from './ids.js';
import type { ImageStore } from './images.js';
import type { SignaturePolicy } from './signatures.js';
import { type FleetSummary, summarize } from './summary.js';

export interface FleetOptions {
  /** Pod base URLs (http://host:port). Devices are spread round-robin and fail over to the next. */
  urls: readonly string[];
  devices: number;
  /** Device secrets, and where enrolled ones are kept (default: in memory, empty). */
  credentials?: CredentialStore;
  /** For devices without a secret: enroll with this token first. */
  enrollToken?: string | null;
  prefix?: string;
  model?: string;
  firmwareVersion?: string;
  labels?: Record<string, string>;
  faults?: Partial<FaultOptions>;
  /** Keeps every install after its `installing` report until released (tests). */
  installHold?: InstallHold;
  /** Keeps every install that crashed mid-apply from finishing its apply until released (tests). */
  afterCrashHold?: InstallHold;
  /** Trusted publisher keys, and whether every install needs a valid signature. */
  signatures?: SignaturePolicy;
  /** Where the devices keep the images they run (so they can apply deltas), and the one they start on. */
  images?: ImageStore;
  firmwareImage?: string;
  /** A download connection silent this long is cut and resumed (default 30s). */
  downloadStallMs?: number;
  /** Says when a download connection stalled, instead of `downloadStallMs` of silence (tests). */
  downloadStallWatch?: StallWatch;
  /** Delay between consecutive device starts, so a big fleet does not connect in the same ms. */
  staggerMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  connectTimeoutMs?: number;
  /** Source addresses for the devices' sockets, round-robin (default: the system's choice). */
  localAddresses?: readonly string[];
  random?: Random;
  onEvent?: (event: DeviceEvent) => void;
}

/**
 * The fail-over order for device `index`: its own pod first (round-robin), then the others, starting
 * at a different one for successive devices of the same pod, so a dead pod's devices spread over
 * all the rest instead of all landing on its neighbour.
 */
export function urlsFor(urls: readonly string[], index: number): string[] {
  const n = urls.length;
  const own = index % n;
  const others = [...urls.slice(own + 1), ...urls.slice(0, own)];
  const shift = n > 1 ? Math.floor(index / n) % (n - 1) : 0;
  return [urls[own] as string, ...others.slice(shift), ...others.slice(0, shift)];
}

/** N simulated cameras in one process. */
export class Fleet {
  readonly devices: readonly SimulatedDevice[];
  readonly credentials: CredentialStore;
  private readonly staggerMs: number;
  private readonly startTimers = new Set<NodeJS.Timeout>();
  private pendingStarts = 0;

  constructor(options: FleetOptions) {
    if (options.urls.length === 0) throw new Error('a fleet needs at least one URL');
    const prefix = options.prefix ?? 'cam';
    this.staggerMs = options.staggerMs ?? 2;
    const credentials = options.credentials ?? Credentials.inMemory();
    this.credentials = credentials;
    this.devices = Array.from(
      { length: options.devices },
      (_, index) =>
        new SimulatedDevice({
          id: deviceIdOf(prefix, index, options.devices),
          urls: urlsFor(options.urls, index),
          credentials,
          enrollToken: options.enrollToken ?? null,
          model: options.model ?? 'cam-x',
          firmwareVersion: options.firmwareVersion ?? '1.0.0',
          ...(options.labels ? { labels: options.labels } : {}),
          ...(options.faults ? { faults: options.faults } : {}),
          ...(options.signatures ? { signatures: options.signatures } : {}),
          ...(options.images ? { images: options.images } : {}),
          ...(options.firmwareImage ? { firmwareImage: options.firmwareImage } : {}),
          ...(options.installHold ? { installHold: options.installHold } : {}),
          ...(options.afterCrashHold ? { afterCrashHold: options.afterCrashHold } : {}),
          ...(options.downloadStallMs ? { downloadStallMs: options.downloadStallMs } : {}),
          ...(options.downloadStallWatch ? { downloadStallWatch: options.downloadStallWatch } : {}),
          ...(options.backoff ? { backoff: options.backoff } : {}),
          ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
          ...(options.localAddresses?.length
            ? { localAddress: options.localAddresses[index % options.localAddresses.length] }
            : {}),
          ...(options.random ? { random: options.random } : {}),
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        }),
    );
  }

  /** Starts every device, `staggerMs` apart. */
  start(): void {
    for (const [index, device] of this.devices.entries()) {
      const delay = index * this.staggerMs;
      if (delay === 0) {
        device.start();
        continue;
      }
      this.pendingStarts++;
      const timer = setTimeout(() => {
        this.startTimers.delete(timer);
        this.pendingStarts--;
        device.start();
      }, delay);
      this.startTimers.add(timer);
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.startTimers) clearTimeout(timer);
    this.startTimers.clear();
    this.pendingStarts = 0;
    await Promise.all(this.devices.map((device) => device.stop()));
  }

  /** Work in progress: devices still to start, installs running, reports being re-sent. */
  get busy(): number {
    return this.devices.reduce((sum, device) => sum + device.busy, this.pendingStarts);
  }

  /** Every device was refused for its credentials. */
  get allRejected(): boolean {
    return this.devices.length > 0 && this.devices.every((device) => device.rejected);
  }

  /** No device can do anything more (rejected, replaced, failed or stopped). */
  get allStopped(): boolean {
    return this.devices.every((device) =>
      ['rejected', 'replaced', 'failed', 'stopped'].includes(device.state),
    );
  }

  /** The devices refused for their credentials, with the reason. */
  rejections(): { id: string; message: string }[] {
    return this.records()
      .filter((record) => record.rejected)
      .map((record) => ({ id: record.id, message: record.rejection ?? 'refused' }));
  }

  summary(): FleetSummary {
    return summarize(this.devices.map((device) => device.record()));
  }

  records(): DeviceRecord[] {
    return this.devices.map((device) => device.record());
  }

  device(id: string): SimulatedDevice | undefined {
    return this.devices.find((device) => device.id === id);
  }
}
