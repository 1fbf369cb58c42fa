/** What the benchmark tells a camera process, and what it answers (over the IPC channel). */
import type { CameraKind, LeanCounters } from './lean-camera.js';

/** How a simulator process is set up (passed as JSON in BENCH_SIM). */
export interface SimConfig {
  index: number;
  urls: string[];
  /** Devices that take part in connect, fan-out, memory and reconnect (apply time 0, no restart). */
  devices: number;
  /** Which camera the main devices are: the lean generator or the full device simulator. */
  cameras: CameraKind;
  /** A separate group with a real apply time, for the throttled rollout. */
  throttledDevices: number;
  throttledApplyMs: number;
  /** Source addresses of this process's sockets (127.0.0.x), round-robin over its cameras. */
  localAddresses: string[];
  enrollToken: string;
  /** Trusted publisher keys (PEM) and whether an install needs their signature (default: unchecked). */
  signatures?: SignaturePolicy;
}

/** The device simulator's signature policy, as JSON can carry it. */
export interface SignaturePolicy {
  trustedKeys: string[];
  requireSignature: boolean;
}

/** The device groups' label, so each rollout targets one group only. */
export const GROUP_LABEL = 'bench';
export type Group = 'main' | 'throttled';

export type Command =
  /** Enroll every device, then connect, register and subscribe; answers when all are subscribed. */
  | { type: 'provision' }
  /** Close every device's connection. */
  | { type: 'disconnect' }
  /** Start every main device at once (secrets known); answers when all are subscribed. */
  | { type: 'connect' }
  /** When each main device first got an offer of the rollout (epoch ms), and finished it. */
  | { type: 'offers'; rolloutId: string }
  /** Remember which main devices are on this pod now; `resubscribed` answers for them. */
  | { type: 'watch'; url: string }
  | { type: 'resubscribed' }
  | { type: 'usage' }
  /** Artifact bytes the cameras received, and their verified installs, failures and refusals. */
  | { type: 'downloads' }
  /** A network blip for this many random lean main cameras: each drops its socket and reconnects. */
  | { type: 'churn'; cameras: number }
  | { type: 'stop' };

export interface ConnectResult {
  /** Per device: ms from its start to its subscription. */
  readyMs: number[];
  startedAt: number;
  /** When the last device was subscribed (epoch ms). */
  allReadyAt: number;
}

export interface OffersResult {
  /** Epoch ms of the first offer per device that got one. */
  offeredAt: number[];
}

export interface ResubscribedResult {
  watched: number;
  /** Epoch ms of the first subscription elsewhere, per watched device that has one. */
  resubscribedAt: number[];
  /** Connections of watched devices lost since, by reason. */
  lost: Record<string, number>;
}

export interface UsageResult {
  /** CPU time (user + system) of the process so far. */
  cpuMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  subscribed: number;
  /** Connections lost since the process started, by reason. */
  lost: Record<string, number>;
  /** What the lean cameras did (null when the main group is the simulator). */
  lean: LeanCounters | null;
}

export interface DownloadsResult {
  /** Artifact bytes received over all downloads (resumed ones included). */
  downloadBytes: number;
  installsDone: number;
  checksumFailures: number;
  signatureRefusals: number;
}

export type Reply =
  /** Sent once, unasked, when the process is listening. */
  | { type: 'ready' }
  | { type: 'provision'; enrolled: number; ms: number }
  | { type: 'disconnect' }
  | ({ type: 'connect' } & ConnectResult)
  | ({ type: 'offers' } & OffersResult)
  | { type: 'watch'; deviceIds: string[] }
  | ({ type: 'resubscribed' } & ResubscribedResult)
  | ({ type: 'usage' } & UsageResult)
  | ({ type: 'downloads' } & DownloadsResult)
  | { type: 'churn'; dropped: number }
  | { type: 'stop' }
  | { type: 'error'; message: string };

/** A command with its correlation id, and the reply to it. */
export interface Request {
  id: number;
  command: Command;
}
export interface Response {
  id: number;
  reply: Reply;
}
