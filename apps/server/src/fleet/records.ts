import {
  type ArtifactRef,
  type CreateRolloutInput,
  DELIVERY_STATES,
  type Delivery,
  type DeliveryState,
  type DeltaRef,
  type Device,
  type HistoryEntry,
  type Offer,
  type Patch,
  type Rollout,
  type RolloutTarget,
  type Signature,
  type StateCounts,
} from '@camfleet/contracts';

import type { ClaimReply } from '../redis/scripts/index.js';
import { deliveryIdOf } from './ids.js';

/** Conversions from Redis hashes and script replies to contract types. */

type Hash = Record<string, string>;

const num = (value: string | undefined): number => (value ? Number(value) : 0);
const nullableNum = (value: string | undefined): number | null =>
  value && value !== '0' ? Number(value) : null;
const nullableStr = (value: string | undefined): string | null => (value ? value : null);

function parseArtifact(text: string | undefined): ArtifactRef | null {
  return text ? (JSON.parse(text) as ArtifactRef) : null;
}

export function deviceFrom(hash: Hash): Device {
  return {
    id: hash.id ?? '',
    model: hash.model ?? '',
    firmwareVersion: hash.firmware ?? '',
    labels: hash.labels ? (JSON.parse(hash.labels) as Record<string, string>) : {},
    firstSeenAt: num(hash.firstSeen),
    lastSeenAt: num(hash.lastSeen),
    online: hash.online === '1',
    node: nullableStr(hash.node),
  };
}

export function patchFrom(hash: Hash): Patch {
  return {
    id: hash.id ?? '',
    name: hash.name ?? '',
    version: hash.version ?? '',
    notes: hash.notes ?? '',
    artifact: parseArtifact(hash.artifact),
    signature: hash.signature ? (JSON.parse(hash.signature) as Signature) : null,
    createdAt: num(hash.createdAt),
    createdBy: hash.createdBy ?? '',
  };
}

export function rolloutFrom(hash: Hash): Rollout {
  return {
    id: hash.id ?? '',
    seq: num(hash.seq),
    patchId: hash.patchId ?? '',
    patch: { name: hash.name ?? '', version: hash.version ?? '' },
    target: JSON.parse(hash.target ?? '{"kind":"all"}') as RolloutTarget,
    ackTimeoutMs: num(hash.ackTimeoutMs),
    maxAttempts: num(hash.maxAttempts),
    retryBackoff: { baseMs: num(hash.backoffBaseMs), maxMs: num(hash.backoffMaxMs) },
    waves: (hash.waves ?? '100').split(',').map(Number),
    advance: hash.advance === 'manual' ? 'manual' : 'auto',
    soakMs: num(hash.soakMs),
    successThreshold: hash.successThreshold ? Number(hash.successThreshold) : 1,
    maxInFlight: nullableNum(hash.maxInFlight),
    maxPerMinute: nullableNum(hash.maxPerMinute),
    ramp: hash.ramp ? (JSON.parse(hash.ramp) as Rollout['ramp']) : null,
    failureThreshold: hash.failureThreshold ? Number(hash.failureThreshold) : null,
    minSample: num(hash.minSample) || 1,
    onFailure: hash.onFailure === 'abort' ? 'abort' : 'pause',
    countTimeouts: hash.countTimeouts === '1',
    snapshot: hash.snapshot === '1',
    supersede: hash.supersede === '1',
    startAt: nullableNum(hash.startAt),
    endBy: nullableNum(hash.endBy),
    atEnd: hash.atEnd === 'finish' ? 'finish' : 'cancel',
    windows: hash.windows ? (JSON.parse(hash.windows) as Rollout['windows']) : [],
    windowZone: hash.windowZone || 'UTC',
    downloadAhead: hash.downloadAhead === '1',
    createdAt: num(hash.createdAt),
    createdBy: hash.createdBy ?? '',
  };
}

/** The fields of the rollout hash that hold its settings (strings; '' for none). */
export function rolloutSettingsFields(input: CreateRolloutInput): Record<string, string> {
  const optional = (value: number | null): string => (value === null ? '' : String(value));
  return {
    target: JSON.stringify(input.target),
    ackTimeoutMs: String(input.ackTimeoutMs),
    maxAttempts: String(input.maxAttempts),
    backoffBaseMs: String(input.retryBackoff.baseMs),
    backoffMaxMs: String(input.retryBackoff.maxMs),
    waves: input.waves.join(','),
    advance: input.advance,
    soakMs: String(input.soakMs),
    successThreshold: String(input.successThreshold),
    maxInFlight: optional(input.maxInFlight),
    maxPerMinute: optional(input.maxPerMinute),
    ramp: input.ramp ? JSON.stringify(input.ramp) : '',
    failureThreshold: optional(input.failureThreshold),
    minSample: String(input.minSample),
    onFailure: input.onFailure,
    countTimeouts: input.countTimeouts ? '1' : '0',
    snapshot: input.snapshot ? '1' : '0',
    supersede: input.supersede ? '1' : '0',
    startAt: optional(input.startAt),
    endBy: optional(input.endBy),
    atEnd: input.atEnd,
    windows: input.windows.length > 0 ? JSON.stringify(input.windows) : '',
    windowZone: input.windowZone,
    downloadAhead: input.downloadAhead ? '1' : '0',
  };
}

/** Whether a rollout needs slots from the fleet-wide limiter before a delivery starts. */
export function isLimited(rollout: Pick<Rollout, 'maxInFlight' | 'maxPerMinute' | 'ramp'>): boolean {
  return rollout.maxInFlight !== null || rollout.maxPerMinute !== null || rollout.ramp !== null;
}

export function deliveryFrom(hash: Hash): Delivery {
  const rolloutId = hash.rid ?? '';
  const deviceId = hash.dev ?? '';
  return {
    deliveryId: deliveryIdOf(rolloutId, deviceId),
    rolloutId,
    deviceId,
    patchId: hash.patchId ?? '',
    state: (hash.state ?? 'queued') as DeliveryState,
    attempt: num(hash.attempt),
    failures: num(hash.failures),
    maxAttempts: num(hash.maxAttempts),
    lastError: nullableStr(hash.lastError),
    createdAt: num(hash.createdAt),
    updatedAt: num(hash.updatedAt),
    retryAt: nullableNum(hash.retryAt),
  };
}

export function historyFrom(json: string): HistoryEntry {
  return JSON.parse(json) as HistoryEntry;
}

/** How many history entries a device shows, and a delivery keeps of its own (deliveries.lua). */
export const HISTORY_SHOWN = 50;

/**
 * A delivery record's own history, newest first: entry i (from 1, of `hn`) is field
 * `h<(i-1) % HISTORY_SHOWN>`, "at|attempt|from|to|error" (the error last: it may hold `|`).
 */
function deliveryHistoryFrom(hash: Hash): HistoryEntry[] {
  const written = num(hash.hn);
  const rolloutId = hash.rid ?? '';
  const entries: HistoryEntry[] = [];
  for (let i = written; i > Math.max(0, written - HISTORY_SHOWN); i--) {
    const value = hash[`h${(i - 1) % HISTORY_SHOWN}`];
    if (value === undefined) continue;
    const [at = '', attempt = '', from = '', to = '', ...error] = value.split('|');
    entries.push({
      at: Number(at),
      rolloutId,
      attempt: Number(attempt),
      from: (from || null) as DeliveryState | null,
      to: to as DeliveryState,
      error: error.length > 0 && error.join('|') !== '' ? error.join('|') : null,
    });
  }
  return entries;
}

/** The state letters of a compacted delivery (deliveries.lua STATE_CODE). */
const STATE_OF_CODE: Readonly<Record<string, DeliveryState>> = {
  q: 'queued',
  o: 'offered',
  d: 'downloading',
  i: 'installing',
  v: 'verifying',
  s: 'succeeded',
  f: 'failed',
  c: 'canceled',
};

type ArchivedLine = [
  string,
  string,
  number,
  number,
  number,
  number,
  string,
  [number, number, string, string?][],
  number,
];

/**
 * A device's compacted deliveries (deliveries.lua `compact`: one JSON line each) as the records
 * they were, by rollout id: what `deliveryFrom` and `historyOf` read. The patch and the attempt
 * limit are the rollout's (the caller adds them).
 */
export function archivedRecords(lines: string | null, deviceId: string): Map<string, Hash> {
  const records = new Map<string, Hash>();
  for (const text of (lines ?? '').split('\n')) {
    if (text === '') continue;
    const [rid, state, attempt, failures, createdAt, updatedAt, lastError, history, wave] = JSON.parse(
      text,
    ) as ArchivedLine;
    const record: Hash = {
      rid,
      dev: deviceId,
      state: STATE_OF_CODE[state] ?? 'failed',
      attempt: String(attempt),
      failures: String(failures),
      createdAt: String(createdAt),
      updatedAt: String(updatedAt),
      lastError,
      wave: String(wave),
      hn: String(Array.isArray(history) ? history.length : 0),
    };
    // Lua's cjson writes an empty list as {}: a record always has its creation entry, but be sure.
    (Array.isArray(history) ? history : []).forEach(([after, tried, move, error], i) => {
      const to = STATE_OF_CODE[move.slice(-1)] ?? '';
      const from = move.length > 1 ? (STATE_OF_CODE[move[0] ?? ''] ?? '') : '';
      record[`h${i % HISTORY_SHOWN}`] = `${createdAt + after}|${tried}|${from}|${to}|${error ?? ''}`;
    });
    records.set(rid, record);
  }
  return records;
}

/**
 * A device's history, newest first: its deliveries' logs merged, and the list earlier versions
 * kept per device (`legacy`, JSON entries newest first) for deliveries made before an upgrade.
 */
export function historyOf(deliveries: Hash[], legacy: string[]): HistoryEntry[] {
  const entries = [...deliveries.flatMap(deliveryHistoryFrom), ...legacy.map(historyFrom)];
  return entries.sort((a, b) => b.at - a.at).slice(0, HISTORY_SHOWN);
}

export function emptyCounts(): StateCounts {
  return Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as StateCounts;
}

const STATES: ReadonlySet<string> = new Set(DELIVERY_STATES);

/**
 * Adds one bucket's counters of a wave (fields starting with `prefix`) into totals. The scripts
 * count transitions (`<from>><to>`, from empty when a delivery is created, to empty when it is
 * removed): a state holds what entered it minus what left it. Fields `<state>` (a count kept by
 * earlier versions) add as they are, so counters written before an upgrade still count.
 */
export function addCounts(totals: StateCounts, hash: Hash, prefix = ''): void {
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(prefix)) continue;
    const name = field.slice(prefix.length);
    const n = num(value);
    const arrow = name.indexOf('>');
    if (arrow < 0) {
      if (STATES.has(name)) totals[name as DeliveryState] += n;
      continue;
    }
    const from = name.slice(0, arrow);
    const to = name.slice(arrow + 1);
    if (STATES.has(from)) totals[from as DeliveryState] -= n;
    if (STATES.has(to)) totals[to as DeliveryState] += n;
  }
}

type OfferReply = Extract<ClaimReply, { kind: 'offer' }>;

/** An offer reply's patch as the device gets it (parsed once when many devices get the same). */
export function offeredPatch({ patch }: OfferReply): Offer['patch'] {
  return {
    id: patch.id,
    name: patch.name,
    version: patch.version,
    notes: patch.notes,
    artifact: parseArtifact(patch.artifact),
    delta: patch.delta ? (JSON.parse(patch.delta) as DeltaRef) : null,
    signature: patch.signature ? (JSON.parse(patch.signature) as Signature) : null,
  };
}

/** offer_claim's offer → the offer pushed to the device. `patch`: offeredPatch(claim), if made already. */
export function offerFrom(deviceId: string, claim: OfferReply, patch = offeredPatch(claim)): Offer {
  const deliveryId = deliveryIdOf(claim.rolloutId, deviceId);
  return {
    offerId: `${deliveryId}#${claim.attempt}`,
    deliveryId,
    rolloutId: claim.rolloutId,
    attempt: claim.attempt,
    patch,
    ackTimeoutMs: claim.ackTimeoutMs,
    deadlineAt: claim.deadlineAt,
    installWindow: claim.window,
  };
}
