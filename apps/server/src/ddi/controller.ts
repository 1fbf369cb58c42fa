import { createHash } from 'node:crypto';
import { type DeviceEvent, FleetError, LabelKey, LabelValue, type ReportInput } from '@camfleet/contracts';
import type { ArtifactStorage } from '../artifacts/storage.js';
import type { RedisFleet } from '../fleet/fleet.js';
import { deliveryIdOf } from '../fleet/ids.js';
import { deviceFrom } from '../fleet/records.js';
import { ATTEMPTS_PER_ACTION_ID, type DdiConfigData, type DdiFeedback } from './schema.js';

export interface DdiConfig {
  /** The one tenant this fleet answers to; any other is 404. */
  tenant: string;
  /** `config.polling.sleep` while the device has work, and while it has none. */
  pollActiveSeconds: number;
  pollIdleSeconds: number;
}

/** What a poll found for the device: an action to run, one to cancel, or nothing. */
export type DdiWork =
  | { kind: 'deployment'; actionId: number }
  | { kind: 'cancel'; actionId: number }
  | { kind: 'none' };

export interface DdiDeployment {
  actionId: number;
  patch: { name: string; version: string };
  artifact: {
    filename: string;
    sha256: string;
    sha1: string;
    md5: string;
    size: number;
    /** A presigned URL of the object store (presigning on); absent: the pod serves it. */
    url?: string;
  } | null;
}

/** A feedback's outcome: applied (or a repeat), or for an action that is no longer open. */
export type FeedbackOutcome = 'ok' | 'gone';

/** Lines of a feedback's details kept as a failure's error. */
const ERROR_LINES = 3;

/** "HH:MM:SS", as DDI's `config.polling.sleep` wants it. */
export function pollSleep(seconds: number): string {
  const two = (n: number) => String(Math.floor(n)).padStart(2, '0');
  return `${two(seconds / 3600)}:${two((seconds % 3600) / 60)}:${two(seconds % 60)}`;
}

/**
 * hawkBit's Direct Device Integration mapped onto the fleet: a polling controller is an ordinary
 * device (registered with `protocol=ddi`), its work claimed by the same script as a WebSocket
 * camera's while it polls, its feedback reported through the same transition. An action is one
 * attempt of one delivery: a retry is a new action id, so a late feedback for an old attempt is
 * stale, exactly like a stale WebSocket report.
 */
export class DdiController {
  constructor(
    private readonly deps: {
      fleet: RedisFleet;
      storage: ArtifactStorage | null;
      instance: string;
    },
    readonly config: DdiConfig,
  ) {}

  /** A poll: the device is seen, and whatever it should run (or stop) now is claimed for it. */
  async poll(deviceId: string): Promise<DdiWork> {
    // Installed and waiting for the agent's restart to confirm it: its action stays the answer, and
    // the poll is not a registration (one with the old version would read as a rollback).
    const verifying = await this.verifyingAction(deviceId);
    if (verifying !== null) return { kind: 'deployment', actionId: verifying };
    const event = await this.claim(deviceId);
    if (!event) return { kind: 'none' };
    const [rolloutId, attempt] =
      event.type === 'offer'
        ? [event.offer.rolloutId, event.offer.attempt]
        : [rolloutOf(event.deliveryId), event.attempt];
    const actionId = await this.actionIdOf(rolloutId, attempt);
    if (actionId === null) return { kind: 'none' };
    return { kind: event.type === 'offer' ? 'deployment' : 'cancel', actionId };
  }

  /** The action's deployment, if it is the device's current attempt and still in flight. */
  async deployment(deviceId: string, actionId: number): Promise<DdiDeployment | null> {
    const open = await this.openAction(deviceId, actionId);
    if (!open) return null;
    const { redis, keys } = this.deps.fleet.deps;
    const patchId = await redis.hget(keys.rollout(open.rolloutId), 'patchId');
    if (!patchId) return null;
    const patch = await this.deps.fleet.patches.get(patchId);
    const artifact = patch.artifact;
    return {
      actionId,
      patch: { name: patch.name, version: patch.version },
      artifact: artifact
        ? {
            filename: swuName(patch.name, patch.version),
            sha256: artifact.sha256,
            size: artifact.size,
            ...(await this.hashesOf(artifact.sha256)),
            ...(await this.presigned(deviceId, artifact.sha256)),
          }
        : null,
    };
  }

  /** Applies a feedback to the action's delivery, as the report it means. */
  async feedback(
    deviceId: string,
    actionId: number,
    body: DdiFeedback,
    cancel = false,
  ): Promise<FeedbackOutcome> {
    const action = decodeActionId(actionId);
    const rolloutId = action ? await this.rolloutBySeq(action.seq) : null;
    if (!action || !rolloutId) return 'gone';
    const state = await this.deps.fleet.deps.redis.hget(
      this.deps.fleet.deps.keys.delivery(rolloutId, deviceId),
      'state',
    );
    const report = cancel ? cancelReport(body) : await this.reportOf(rolloutId, state, body);
    if (!report) return 'ok';
    try {
      await this.deps.fleet.devices.report(deviceId, {
        deliveryId: deliveryIdOf(rolloutId, deviceId),
        attempt: action.attempt,
        ...report,
      });
      return 'ok';
    } catch (error) {
      if (error instanceof FleetError && error.code !== 'UNAVAILABLE') return 'gone';
      throw error;
    }
  }

  /** The action id of a cancel request, if it is the device's current attempt and in flight. */
  async cancelAction(deviceId: string, actionId: number): Promise<boolean> {
    return (await this.openAction(deviceId, actionId)) !== null;
  }

  /** `configData`: attributes become the device's labels (`model` and `version` its inventory). */
  async configData(deviceId: string, body: DdiConfigData): Promise<void> {
    const labels: Record<string, string> = {};
    for (const [key, value] of Object.entries(body.data)) {
      if (key === 'model' || key === 'version') continue;
      const k = LabelKey.safeParse(key);
      const v = LabelValue.safeParse(value);
      if (!k.success || !v.success)
        throw new FleetError('INVALID_INPUT', `attribute ${JSON.stringify(key)}: not a valid label`);
      labels[k.data] = v.data;
    }
    const known = await this.known(deviceId);
    const kept = body.mode === 'replace' ? {} : { ...known?.labels };
    if (body.mode === 'remove') for (const key of Object.keys(labels)) delete kept[key];
    const merged = body.mode === 'remove' ? kept : { ...kept, ...labels };
    await this.deps.fleet.devices.register(deviceId, null, {
      model: body.data.model ?? known?.model ?? 'ddi',
      firmwareVersion: body.data.version ?? known?.firmwareVersion ?? 'unknown',
      labels: { ...merged, protocol: 'ddi' },
    });
  }

  /**
   * Registers the device as polling from this pod, claims what it should get (the same claim a
   * WebSocket camera's subscription makes), and marks it away again until its next poll.
   */
  private async claim(deviceId: string): Promise<DeviceEvent | null> {
    const { fleet, instance } = this.deps;
    const known = await this.known(deviceId);
    const connectionId = `ddi:${instance}`;
    await fleet.devices.register(
      deviceId,
      { connectionId, subscriptions: { open: 1, max: 1 } },
      {
        model: known?.model ?? 'ddi',
        firmwareVersion: known?.firmwareVersion ?? 'unknown',
        labels: { ...known?.labels, protocol: 'ddi' },
      },
    );
    const session = fleet.sessions.open(deviceId, connectionId, null);
    try {
      await fleet.claims.evaluate(deviceId);
      return session.take();
    } finally {
      fleet.sessions.close(session);
      await fleet.devices.disconnected(deviceId, connectionId);
    }
  }

  /** The action of the device's delivery that is verifying (installed, not yet confirmed), if any. */
  private async verifyingAction(deviceId: string): Promise<number | null> {
    const { redis, keys } = this.deps.fleet.deps;
    const active = await redis.hget(keys.device(deviceId), 'active');
    if (!active) return null;
    const [state, attempt] = await redis.hmget(keys.delivery(active, deviceId), 'state', 'attempt');
    return state === 'verifying' ? this.actionIdOf(active, Number(attempt)) : null;
  }

  private async known(deviceId: string) {
    const { redis, keys } = this.deps.fleet.deps;
    const hash = await redis.hgetall(keys.device(deviceId));
    return hash.id ? deviceFrom(hash) : null;
  }

  /** The action's rollout, if the action is the device's current attempt and still in flight. */
  private async openAction(deviceId: string, actionId: number): Promise<{ rolloutId: string } | null> {
    const action = decodeActionId(actionId);
    const rolloutId = action ? await this.rolloutBySeq(action.seq) : null;
    if (!action || !rolloutId) return null;
    const { redis, keys } = this.deps.fleet.deps;
    const [state, attempt] = await redis.hmget(keys.delivery(rolloutId, deviceId), 'state', 'attempt');
    const inFlight =
      state === 'offered' || state === 'downloading' || state === 'installing' || state === 'verifying';
    return inFlight && Number(attempt) === action.attempt ? { rolloutId } : null;
  }

  private async actionIdOf(rolloutId: string, attempt: number): Promise<number | null> {
    const { redis, keys } = this.deps.fleet.deps;
    const seq = Number(await redis.hget(keys.rollout(rolloutId), 'seq'));
    return seq > 0 && attempt < ATTEMPTS_PER_ACTION_ID ? seq * ATTEMPTS_PER_ACTION_ID + attempt : null;
  }

  private async rolloutBySeq(seq: number): Promise<string | null> {
    const { redis, keys } = this.deps.fleet.deps;
    const [rolloutId] = await redis.zrangebyscore(keys.rollouts, seq, seq);
    return rolloutId ?? null;
  }

  /** The report a feedback means, given the delivery's state (null: nothing to report). */
  private async reportOf(
    rolloutId: string,
    state: string | null,
    body: DdiFeedback,
  ): Promise<Omit<ReportInput, 'deliveryId' | 'attempt'> | null> {
    const { execution, result, details } = body.status;
    const progress = result.progress;
    const percent =
      progress && progress.of > 0 ? Math.min(100, (100 * progress.cnt) / progress.of) : undefined;
    const withProgress = percent === undefined ? {} : { progress: percent };
    if (execution === 'closed' && result.finished === 'success') {
      const version = await this.deps.fleet.deps.redis.hget(
        this.deps.fleet.deps.keys.rollout(rolloutId),
        'version',
      );
      return { status: 'succeeded', firmwareVersion: version ?? 'unknown' };
    }
    if (execution === 'closed' || execution === 'rejected')
      return {
        status: 'failed',
        error: errorOf(details, execution === 'rejected' ? 'rejected by the device' : 'failed'),
      };
    if (execution === 'canceled') return { status: 'canceled' };
    if (execution === 'downloaded') return { status: 'installing', ...withProgress };
    if (execution === 'proceeding' || execution === 'download') {
      // Every chunk installed, the agent waits for its restart to confirm: applied (verifying).
      if (progress && progress.of > 0 && progress.cnt >= progress.of) return { status: 'installed' };
      return { status: state === 'offered' ? 'downloading' : 'installing', ...withProgress };
    }
    return null; // scheduled, resumed: nothing camfleet tracks
  }

  /** `{url}` presigned for the device, when presigning is on and the artifact is its to fetch now. */
  private async presigned(deviceId: string, sha256: string): Promise<{ url?: string }> {
    const url = await this.deps.fleet.artifactLinks.presignedFor(deviceId, sha256);
    return url ? { url } : {};
  }

  /** SHA-1 and MD5 of an artifact (DDI agents want them), computed once and kept in Redis. */
  private async hashesOf(sha256: string): Promise<{ sha1: string; md5: string }> {
    const { redis, keys } = this.deps.fleet.deps;
    const cached = await redis.hget(keys.ddiHashes, sha256);
    if (cached) {
      const [sha1 = '', md5 = ''] = cached.split(',');
      return { sha1, md5 };
    }
    const sha1 = createHash('sha1');
    const md5 = createHash('md5');
    if (this.deps.storage) {
      for await (const chunk of this.deps.storage.read(sha256)) {
        sha1.update(chunk as Buffer);
        md5.update(chunk as Buffer);
      }
    }
    const hashes = { sha1: sha1.digest('hex'), md5: md5.digest('hex') };
    await redis.hset(keys.ddiHashes, sha256, `${hashes.sha1},${hashes.md5}`);
    return hashes;
  }
}

function decodeActionId(actionId: number): { seq: number; attempt: number } | null {
  if (!Number.isSafeInteger(actionId) || actionId <= 0) return null;
  const attempt = actionId % ATTEMPTS_PER_ACTION_ID;
  const seq = Math.floor(actionId / ATTEMPTS_PER_ACTION_ID);
  return attempt > 0 && seq > 0 ? { seq, attempt } : null;
}

const rolloutOf = (deliveryId: string): string => deliveryId.slice(0, deliveryId.indexOf(':'));

/** SWUpdate installs only files named `*.swu`: the patch's name and version. */
function swuName(name: string, version: string): string {
  return `${name}-${version}.swu`.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** A failure's error: the last few detail lines, controls as spaces, bounded. */
function errorOf(details: readonly string[], fallback: string): string {
  const text = details
    .slice(-ERROR_LINES)
    .join(' | ')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to drop them
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ')
    .trim();
  return (text || fallback).slice(0, 1024);
}

function cancelReport(body: DdiFeedback): Omit<ReportInput, 'deliveryId' | 'attempt'> | null {
  const { execution, result } = body.status;
  // The agent stopped: canceled. It refused (rejected, or closed with a failure): it carries on
  // and reports its real outcome on the deployment.
  if (execution === 'canceled' || (execution === 'closed' && result.finished !== 'failure'))
    return { status: 'canceled' };
  return null;
}
