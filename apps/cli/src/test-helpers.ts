/** Helpers for the CLI's tests: captured streams, a scripted fake client, fixtures. */
import { type FleetClient, TRPCClientError } from '@camfleet/client';
import type {
  AppRouter,
  Device,
  EnrollTokenInfo,
  FleetEvent,
  Patch,
  PatchDetail,
  RolloutStatus,
  StateCounts,
  TokenInfo,
} from '@camfleet/contracts';
import type { FleetIO, OutStream } from './io.js';
import { runFleet } from './program.js';

export interface Captured extends OutStream {
  text(): string;
}

export function captured(isTTY = false): Captured {
  let buffer = '';
  return {
    isTTY,
    columns: 120,
    write(chunk: string) {
      buffer += chunk;
      return true;
    },
    text: () => buffer,
  };
}

export interface Observer {
  onData?: (value: unknown) => void;
  onError?: (error: unknown) => void;
  onComplete?: () => void;
}
export type Handler = (input: unknown) => unknown;
export type SubscribeHandler = (input: unknown, observer: Observer) => () => void;

export interface Call {
  path: string;
  input: unknown;
}

/**
 * A stand-in for the tRPC client: `client.a.b.query(input)` / `.mutate(input)` calls
 * `routes['a.b'](input)`; `.subscribe(input, observer)` calls `subscriptions['a.b']`.
 */
export function fakeClient(
  routes: Record<string, Handler>,
  subscriptions: Record<string, SubscribeHandler> = {},
): { client: FleetClient; calls: Call[] } {
  const calls: Call[] = [];
  const node = (path: string[]): unknown =>
    new Proxy(
      {},
      {
        get(_target, key) {
          if (typeof key !== 'string') return undefined;
          const name = path.join('.');
          if (key === 'query' || key === 'mutate') {
            return async (input: unknown) => {
              calls.push({ path: name, input });
              const handler = routes[name];
              if (!handler) throw new Error(`fake client: no route ${name}`);
              return handler(input);
            };
          }
          if (key === 'subscribe') {
            return (input: unknown, observer: Observer) => {
              calls.push({ path: name, input });
              const handler = subscriptions[name];
              if (!handler) throw new Error(`fake client: no subscription ${name}`);
              return { unsubscribe: handler(input, observer) };
            };
          }
          return node([...path, key]);
        },
      },
    );
  return { client: node([]) as FleetClient, calls };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  calls: Call[];
  /** How many times the CLI opened a client (0 = nothing was sent). */
  connects: Array<{ url: string; token: string }>;
}

export interface RunOptions {
  routes?: Record<string, Handler>;
  subscriptions?: Record<string, SubscribeHandler>;
  env?: Record<string, string | undefined>;
  tty?: boolean;
  stderrTTY?: boolean;
  signal?: AbortSignal;
}

export const TEST_ENV = { FLEET_URL: 'http://fleet.test:8080', FLEET_TOKEN: 'secret' };
export const NOW = Date.UTC(2025, 2, 1, 12, 0, 0);

/** Runs `fleet …` in-process against a fake client. */
export async function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = captured(options.tty ?? false);
  const stderr = captured(options.stderrTTY ?? false);
  const { client, calls } = fakeClient(options.routes ?? {}, options.subscriptions ?? {});
  const connects: RunResult['connects'] = [];
  const io: FleetIO = {
    stdout,
    stderr,
    env: options.env ?? TEST_ENV,
    now: () => NOW,
    connect: (url, token) => {
      connects.push({ url, token });
      return { client, close: () => {} };
    },
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const code = await runFleet(argv, io);
  return { code, stdout: stdout.text(), stderr: stderr.text(), calls, connects };
}

/** An error as the server's error formatter ships it. */
export function serverError(
  code: string,
  fleetCode: string | null,
  message: string,
  httpStatus = 500,
): TRPCClientError<AppRouter> {
  return TRPCClientError.from<AppRouter>({
    error: { code: -32000, message, data: { code, httpStatus, fleetCode, zodIssues: null } },
  });
}

/** A request that never reached the server, as fetch reports it. */
export function networkError(code = 'ECONNREFUSED'): TRPCClientError<AppRouter> {
  const inner = Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
  return TRPCClientError.from<AppRouter>(new TypeError('fetch failed', { cause: inner }));
}

export function patchFixture(overrides: Partial<Patch> = {}): Patch {
  return {
    id: 'pat_abc123',
    name: 'cam-firmware',
    version: '1.4.2',
    notes: 'fixes the night mode',
    artifact: null,
    signature: null,
    createdAt: NOW - 5 * 60_000,
    createdBy: 'alice',
    ...overrides,
  };
}

/** A patch as `patch.get` returns it: no artifact, no rollouts, unless overridden. */
export function patchDetailFixture(overrides: Partial<PatchDetail> = {}): PatchDetail {
  return { ...patchFixture(), storage: null, deltas: [], rollouts: [], ...overrides };
}

const ZERO: StateCounts = {
  queued: 0,
  offered: 0,
  downloading: 0,
  installing: 0,
  verifying: 0,
  succeeded: 0,
  failed: 0,
  canceled: 0,
};

export function countsOf(counts: Partial<StateCounts> = {}): StateCounts {
  return { ...ZERO, ...counts };
}

/**
 * A rollout with the given delivery counts, in one wave (unless `overrides` say otherwise):
 * `completed` when something was targeted and nothing is in progress, `active` otherwise.
 */
export function rolloutFixture(
  counts: Partial<StateCounts> = {},
  overrides: Partial<RolloutStatus> = {},
): RolloutStatus {
  const full = countsOf(counts);
  const targeted = Object.values(full).reduce((a, b) => a + b, 0);
  const open = full.queued + full.offered + full.downloading + full.installing + full.verifying;
  return {
    id: 'ro_xyz789',
    seq: 1,
    patchId: 'pat_abc123',
    patch: { name: 'cam-firmware', version: '1.4.2' },
    target: { kind: 'all' },
    ackTimeoutMs: 60_000,
    maxAttempts: 5,
    retryBackoff: { baseMs: 2_000, maxMs: 60_000 },
    waves: [100],
    advance: 'auto',
    soakMs: 0,
    successThreshold: 1,
    maxInFlight: null,
    maxPerMinute: null,
    ramp: null,
    failureThreshold: null,
    minSample: 10,
    onFailure: 'pause',
    countTimeouts: false,
    snapshot: false,
    supersede: false,
    startAt: null,
    endBy: null,
    atEnd: 'cancel',
    windows: [],
    windowZone: 'UTC',
    downloadAhead: false,
    createdAt: NOW - 60_000,
    createdBy: 'alice',
    status: targeted > 0 && open === 0 ? 'completed' : 'active',
    reason: null,
    statusBy: null,
    statusAt: null,
    targeted,
    windowWaiting: 0,
    counts: full,
    wave: 0,
    waveCounts: [full],
    gate: null,
    deltas: { installs: 0, savedBytes: 0 },
    attach: null,
    ...overrides,
  };
}

/**
 * A rollout in waves: `perWave[i]` are wave i's counts (missing waves have none yet); the totals
 * are their sums, and the current wave is the last one given.
 */
export function wavedFixture(
  waves: number[],
  perWave: Array<Partial<StateCounts>>,
  overrides: Partial<RolloutStatus> = {},
): RolloutStatus {
  const waveCounts = waves.map((_, i) => countsOf(perWave[i]));
  const total = countsOf();
  for (const counts of waveCounts) {
    for (const state of Object.keys(total) as Array<keyof StateCounts>) total[state] += counts[state];
  }
  const base = rolloutFixture(total, overrides);
  return {
    ...base,
    waves,
    waveCounts,
    wave: Math.max(0, perWave.length - 1),
    // The last wave not open yet: not completed, whatever the counts say.
    ...(perWave.length < waves.length && base.status === 'completed' ? { status: 'active' as const } : {}),
    ...overrides,
  };
}

export function deviceFixture(id: string, overrides: Partial<Device> = {}): Device {
  return {
    id,
    model: 'cam-x1',
    firmwareVersion: '1.4.1',
    labels: { site: 'north' },
    firstSeenAt: NOW - 86_400_000,
    lastSeenAt: NOW - 30_000,
    online: true,
    node: 'pod-a',
    ...overrides,
  };
}

export type RolloutEvent = Extract<FleetEvent, { kind: 'rollout' }>;
export type DeliveryEvent = Extract<FleetEvent, { kind: 'delivery' }>;

/** A rollout event, as `events.list` returns it: `created` by alice a minute before NOW. */
export function rolloutEventFixture(id: string, overrides: Partial<RolloutEvent> = {}): RolloutEvent {
  return {
    kind: 'rollout',
    id,
    at: NOW - 60_000,
    rolloutId: 'ro_xyz789',
    type: 'created',
    actor: 'alice',
    reason: null,
    wave: 0,
    ...overrides,
  };
}

/** A delivery event: cam-1 going from offered to downloading, attempt 1, 30s before NOW. */
export function deliveryEventFixture(id: string, overrides: Partial<DeliveryEvent> = {}): DeliveryEvent {
  return {
    kind: 'delivery',
    id,
    at: NOW - 30_000,
    rolloutId: 'ro_xyz789',
    deviceId: 'cam-1',
    attempt: 1,
    from: 'offered',
    to: 'downloading',
    error: null,
    ...overrides,
  };
}

/** Whether text carries ANSI escape codes (colours, cursor moves). */
export function hasAnsi(text: string): boolean {
  return text.includes('\u001b[');
}

/** An admin token as `tokens.list` returns it (viewer `dashboards`, no expiry). */
export function tokenFixture(overrides: Partial<TokenInfo> = {}): TokenInfo {
  return {
    id: '0123456789ab',
    name: 'dashboards',
    role: 'viewer',
    createdAt: NOW - 60_000,
    createdBy: 'admin',
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

/** An enrollment token as `enrollTokens.list` returns it (`site-berlin`, 50 uses left, 7 days to go). */
export function enrollFixture(overrides: Partial<EnrollTokenInfo> = {}): EnrollTokenInfo {
  return {
    id: 'ba9876543210',
    name: 'site-berlin',
    usesLeft: 50,
    createdAt: NOW - 60_000,
    createdBy: 'admin',
    expiresAt: NOW + 7 * 86_400_000,
    revokedAt: null,
    ...overrides,
  };
}
