import { hostname, tmpdir } from 'node:os';
import { parseLongDuration } from '@camfleet/contracts';
import { parseHostList, parseRedisUrl, type RedisTarget, RedisTargetError } from '@camfleet/redis';
import { z } from 'zod';
import type { AdmissionLimits } from './admission.js';
import { ARTIFACT_S3_ENV, artifactS3Of, type PresignConfig, type S3Config } from './artifacts/config.js';
import type { DeltaOptions } from './artifacts/zstd-delta.js';
import type { AuthThrottleLimits } from './auth-throttle.js';
import { DEFAULT_DASHBOARD_DIR } from './dashboard.js';
import type { DdiConfig } from './ddi/controller.js';
import { WEBHOOK_ENV, webhookSettingsOf } from './webhooks/config.js';
import type { WebhookSettings } from './webhooks/settings.js';

const Milliseconds = (fallback: number) => z.coerce.number().int().min(10).max(3_600_000).default(fallback);

/** A string the given parser accepts; its RedisTargetError message becomes the issue. */
const parsedBy = (parse: (value: string) => unknown) =>
  z.string().superRefine((value, ctx) => {
    try {
      parse(value);
    } catch (error) {
      if (!(error instanceof RedisTargetError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  });

const Env = z.object({
  /** One instance (redis://), a cluster (redis+cluster://) or Sentinel (redis+sentinel://). */
  REDIS_URL: parsedBy(parseRedisUrl).optional(),
  /** Redis Cluster seed nodes, host:port,… (instead of a redis+cluster:// URL). */
  REDIS_CLUSTER_NODES: parsedBy((list) => parseHostList(list, 6379)).optional(),
  /** Sentinels, host:port,…, with the master's name (instead of a redis+sentinel:// URL). */
  REDIS_SENTINELS: parsedBy((list) => parseHostList(list, 26379)).optional(),
  REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits and . _ - (at most 64)')
    .optional(),
  /** Credentials for cluster or Sentinel data nodes given as host lists (a URL carries its own). */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** What the Sentinels themselves ask for (their `requirepass`, or an ACL user), apart from the data nodes'. */
  REDIS_SENTINEL_USERNAME: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /**
   * Replicas that must have a delivery's outcome and a rollout's creation before the pod answers
   * (WAIT): 0 trusts asynchronous replication; 1 keeps them across a failover.
   */
  FLEET_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  FLEET_REDIS_WAIT_TIMEOUT_MS: Milliseconds(500),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** A token with the admin role (simple deployments); FLEET_ADMIN_TOKENS_FILE holds hashed tokens with roles. */
  FLEET_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  FLEET_ADMIN_TOKENS_FILE: z.string().min(1).optional(),
  /** Devices present it (with their id) to enroll; optional when devices are provisioned. */
  FLEET_ENROLL_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  FLEET_WS_MESSAGES_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(50),
  FLEET_WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(1000).default(10),
  /** Keepalive: a socket quiet this long is sent PING, and dropped if nothing comes back in the wait. */
  FLEET_WS_PING_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  FLEET_WS_PONG_WAIT_MS: z.coerce.number().int().min(1_000).max(600_000).default(10_000),
  /**
   * Device connections: `lean`, camfleet's device transport (device-transport.ts), or `trpc`, tRPC's
   * generic WebSocket adapter (as admin connections always are).
   */
  FLEET_DEVICE_TRANSPORT: z.enum(['lean', 'trpc']).default('lean'),
  FLEET_WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(65_536).max(1_073_741_824).default(1_048_576),
  /** Subscriptions one admin token may hold on a pod, across its connections. */
  FLEET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: z.coerce.number().int().min(1).max(100_000).default(50),
  /** WebSocket connections one admin token may hold on a pod. */
  FLEET_MAX_CONNECTIONS_PER_TOKEN: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Sockets waiting to authenticate: on a pod, and from one source address. */
  FLEET_MAX_UNAUTHENTICATED: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  FLEET_MAX_UNAUTHENTICATED_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(2_000),
  /** A socket that has not authenticated by then is closed (4003). */
  FLEET_AUTH_DEADLINE_MS: Milliseconds(10_000),
  /** Failed logins per window: from one source address, and from it for one claimed identity. */
  FLEET_AUTH_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  FLEET_AUTH_FAILURES_PER_IDENTITY: z.coerce.number().int().min(1).max(1_000_000).default(10),
  FLEET_AUTH_FAILURE_WINDOW_MS: Milliseconds(60_000),
  /** Events a follower may have waiting before it is dropped (it resumes after its last event id). */
  FLEET_EVENTS_FOLLOWER_QUEUE: z.coerce.number().int().min(10).max(1_000_000).default(5_000),
  /** Pending TCP connections the kernel queues (capped by net.core.somaxconn): a reconnect storm. */
  FLEET_LISTEN_BACKLOG: z.coerce.number().int().min(1).max(65_535).default(4096),
  FLEET_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits and . _ - (at most 64)')
    .default(hostname().slice(0, 64) || 'node'),
  FLEET_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - (at most 32)')
    .default('cf'),
  FLEET_SWEEP_INTERVAL_MS: Milliseconds(250),
  FLEET_HINT_GRACE_MS: Milliseconds(3_000),
  FLEET_LEASE_MS: Milliseconds(10_000),
  FLEET_SHUTDOWN_GRACE_MS: Milliseconds(5_000),
  /** How long an ended rollout's finished deliveries stay on its devices ("30d", "12h"; at least 1m). */
  FLEET_DELIVERY_RETENTION: z
    .string()
    .default('30d')
    .transform((text, ctx) => {
      const ms = parseLongDuration(text);
      if (ms === null || ms < 60_000) {
        ctx.addIssue({ code: 'custom', message: 'a duration of at least 1m, e.g. 30d, 12h, 90m' });
        return z.NEVER;
      }
      return ms;
    }),
  /** Where uploaded artifacts live: chunks in Redis, files in a directory (a shared volume), or S3. */
  FLEET_ARTIFACT_STORE: z.enum(['redis', 'filesystem', 's3']).default('redis'),
  FLEET_ARTIFACT_DIR: z.string().min(1).optional(),
  /** The dashboard's built files (default: the repository's apps/dashboard/dist; the image copies them). */
  FLEET_DASHBOARD_DIR: z.string().min(1).optional(),
  FLEET_ARTIFACT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(64 * 1024 ** 3)
    .default(64 * 1024 * 1024),
  FLEET_ARTIFACT_CHUNK_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .max(16 * 1024 * 1024)
    .default(256 * 1024),
  /** Scratch space for making a delta: base, target and delta side by side (default: the temp dir). */
  FLEET_DELTA_DIR: z.string().min(1).optional(),
  /** zstd's level for deltas: higher is smaller and slower (19: best short of --ultra). */
  FLEET_DELTA_LEVEL: z.coerce.number().int().min(1).max(19).default(19),
  /**
   * The original system's device protocol (`/ws/<device_id>`, no credentials): off unless asked
   * for, and then limited by an allow-list of ids and/or a shared token (`?token=`).
   */
  FLEET_LEGACY_PROTOCOL: z.enum(['on', 'off']).default('off'),
  FLEET_LEGACY_DEVICE_IDS: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(,[A-Za-z0-9][A-Za-z0-9._-]{0,127})*$/,
      'device ids (letters, digits and . _ -, starting with a letter or digit; no :) separated by commas',
    )
    .optional(),
  FLEET_LEGACY_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Where legacy cameras find a patch without an uploaded artifact: `<path>/<patch name>`. */
  FLEET_LEGACY_PATCH_PATH: z.string().min(1).default('/patches'),
  /** Watch the original's Redis list `patch_files`: each name pushed becomes a patch and a rollout. */
  FLEET_LEGACY_PATCH_LIST: z.enum(['on', 'off']).default('off'),
  FLEET_LEGACY_PATCH_LIST_POLL_MS: Milliseconds(1_000),
  /** Ack timeout of the rollouts made from `patch_files`: the original resent after 60 s unanswered. */
  FLEET_LEGACY_ACK_TIMEOUT_MS: Milliseconds(60_000),
  /** hawkBit DDI for off-the-shelf agents (SWUpdate, RAUC): on when a tenant is named. */
  FLEET_DDI_TENANT: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits and . _ - (at most 64)')
    .optional(),
  FLEET_DDI_POLL_ACTIVE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(10),
  FLEET_DDI_POLL_IDLE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ...WEBHOOK_ENV,
  ...ARTIFACT_S3_ENV,
});

export interface ServerConfig {
  redis: RedisTarget;
  /** Replicas to WAIT for after the transitions that must survive a failover (0: none). */
  redisWaitReplicas: number;
  redisWaitTimeoutMs: number;
  port: number;
  host: string;
  adminToken: string | null;
  adminTokensFile: string | null;
  enrollToken: string | null;
  wsMessagesPerSecond: number;
  wsMaxSubscriptions: number;
  /** Keepalive: PING after this much quiet, drop after this much more silence. */
  wsKeepAlive: { pingMs: number; pongWaitMs: number };
  wsMaxBufferedBytes: number;
  /** Who serves device connections: the lean device transport, or tRPC's adapter. */
  deviceTransport: 'lean' | 'trpc';
  admission: AdmissionLimits;
  authFailures: AuthThrottleLimits;
  eventsFollowerQueue: number;
  listenBacklog: number;
  nodeId: string;
  keyPrefix: string;
  sweepIntervalMs: number;
  hintGraceMs: number;
  leaseMs: number;
  shutdownGraceMs: number;
  /** How long an ended rollout's finished deliveries are kept (FLEET_DELIVERY_RETENTION). */
  deliveryRetentionMs: number;
  logLevel: string;
  artifactStore: 'redis' | 'filesystem' | 's3';
  /** The artifact directory (filesystem store only). */
  artifactDir: string | null;
  /** The bucket and its client settings (s3 store only). */
  s3: S3Config | null;
  /** Presigned download URLs in offers and DDI links. */
  artifactPresign: PresignConfig;
  artifactMaxBytes: number;
  /** Chunk size of the Redis store, and read size of both: the memory one transfer holds. */
  artifactChunkBytes: number;
  /** Making deltas (patch.createDelta): where the files go while zstd works, and its level. */
  delta: DeltaOptions;
  legacy: LegacyConfig;
  /** The DDI API's tenant and poll sleeps, or null when it is off. */
  ddi: DdiConfig | null;
  dashboardDir: string;
  /** Webhooks: where they may go, timeouts, retries, limits (docs/webhooks.md). */
  webhooks: WebhookSettings;
}

/** The original system's cameras and patch list (the migration). */
export interface LegacyConfig {
  protocol: boolean;
  /** Only these ids may use it (null: any id). */
  deviceIds: ReadonlySet<string> | null;
  /** A shared token legacy cameras must send as `?token=` (null: none asked). */
  token: string | null;
  patchPath: string;
  patchList: boolean;
  patchListPollMs: number;
  ackTimeoutMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads the configuration from the environment; throws ConfigError naming every bad variable. */
function parseEnv(env: NodeJS.ProcessEnv): z.infer<typeof Env> {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/** What a job on the pods' Redis needs (grow-buckets.ts): the pods' own Redis settings. */
export function loadRedisConfig(
  env: NodeJS.ProcessEnv,
): Pick<ServerConfig, 'redis' | 'redisWaitReplicas' | 'redisWaitTimeoutMs' | 'keyPrefix' | 'logLevel'> {
  const e = parseEnv(env);
  return {
    redis: redisTargetOf(e),
    redisWaitReplicas: e.FLEET_REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: e.FLEET_REDIS_WAIT_TIMEOUT_MS,
    keyPrefix: e.FLEET_KEY_PREFIX,
    logLevel: e.LOG_LEVEL,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const e = parseEnv(env);
  if (!e.FLEET_ADMIN_TOKEN && !e.FLEET_ADMIN_TOKENS_FILE) {
    throw new ConfigError(
      'invalid configuration:\n  FLEET_ADMIN_TOKEN or FLEET_ADMIN_TOKENS_FILE is required',
    );
  }
  if (e.FLEET_ARTIFACT_STORE === 'filesystem' && !e.FLEET_ARTIFACT_DIR) {
    throw new ConfigError(
      'invalid configuration:\n  FLEET_ARTIFACT_DIR is required when FLEET_ARTIFACT_STORE=filesystem',
    );
  }
  const artifacts = artifactS3Of(e.FLEET_ARTIFACT_STORE, e);
  if ('problem' in artifacts) throw new ConfigError(`invalid configuration:\n  ${artifacts.problem}`);
  return {
    redis: redisTargetOf(e),
    redisWaitReplicas: e.FLEET_REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: e.FLEET_REDIS_WAIT_TIMEOUT_MS,
    port: e.PORT,
    host: e.HOST,
    adminToken: e.FLEET_ADMIN_TOKEN ?? null,
    adminTokensFile: e.FLEET_ADMIN_TOKENS_FILE ?? null,
    enrollToken: e.FLEET_ENROLL_TOKEN ?? null,
    wsMessagesPerSecond: e.FLEET_WS_MESSAGES_PER_SECOND,
    wsMaxSubscriptions: e.FLEET_WS_MAX_SUBSCRIPTIONS,
    wsKeepAlive: { pingMs: e.FLEET_WS_PING_MS, pongWaitMs: e.FLEET_WS_PONG_WAIT_MS },
    wsMaxBufferedBytes: e.FLEET_WS_MAX_BUFFERED_BYTES,
    deviceTransport: e.FLEET_DEVICE_TRANSPORT,
    admission: {
      authDeadlineMs: e.FLEET_AUTH_DEADLINE_MS,
      maxUnauthenticated: e.FLEET_MAX_UNAUTHENTICATED,
      maxUnauthenticatedPerAddress: e.FLEET_MAX_UNAUTHENTICATED_PER_ADDRESS,
      maxConnectionsPerToken: e.FLEET_MAX_CONNECTIONS_PER_TOKEN,
      maxSubscriptionsPerPrincipal: e.FLEET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL,
    },
    authFailures: {
      perAddress: e.FLEET_AUTH_FAILURES_PER_ADDRESS,
      perIdentity: e.FLEET_AUTH_FAILURES_PER_IDENTITY,
      windowMs: e.FLEET_AUTH_FAILURE_WINDOW_MS,
    },
    eventsFollowerQueue: e.FLEET_EVENTS_FOLLOWER_QUEUE,
    listenBacklog: e.FLEET_LISTEN_BACKLOG,
    nodeId: e.FLEET_NODE_ID,
    keyPrefix: e.FLEET_KEY_PREFIX,
    sweepIntervalMs: e.FLEET_SWEEP_INTERVAL_MS,
    hintGraceMs: e.FLEET_HINT_GRACE_MS,
    leaseMs: e.FLEET_LEASE_MS,
    shutdownGraceMs: e.FLEET_SHUTDOWN_GRACE_MS,
    deliveryRetentionMs: e.FLEET_DELIVERY_RETENTION,
    logLevel: e.LOG_LEVEL,
    artifactStore: e.FLEET_ARTIFACT_STORE,
    artifactDir: e.FLEET_ARTIFACT_DIR ?? null,
    s3: artifacts.s3,
    artifactPresign: artifacts.presign,
    artifactMaxBytes: e.FLEET_ARTIFACT_MAX_BYTES,
    artifactChunkBytes: e.FLEET_ARTIFACT_CHUNK_BYTES,
    delta: { dir: e.FLEET_DELTA_DIR ?? tmpdir(), level: e.FLEET_DELTA_LEVEL },
    dashboardDir: e.FLEET_DASHBOARD_DIR ?? DEFAULT_DASHBOARD_DIR,
    webhooks: webhookSettingsOf(e),
    ddi: e.FLEET_DDI_TENANT
      ? {
          tenant: e.FLEET_DDI_TENANT,
          pollActiveSeconds: e.FLEET_DDI_POLL_ACTIVE_SECONDS,
          pollIdleSeconds: e.FLEET_DDI_POLL_IDLE_SECONDS,
        }
      : null,
    legacy: {
      protocol: e.FLEET_LEGACY_PROTOCOL === 'on',
      deviceIds: e.FLEET_LEGACY_DEVICE_IDS ? new Set(e.FLEET_LEGACY_DEVICE_IDS.split(',')) : null,
      token: e.FLEET_LEGACY_TOKEN ?? null,
      patchPath: e.FLEET_LEGACY_PATCH_PATH,
      patchList: e.FLEET_LEGACY_PATCH_LIST === 'on',
      patchListPollMs: e.FLEET_LEGACY_PATCH_LIST_POLL_MS,
      ackTimeoutMs: e.FLEET_LEGACY_ACK_TIMEOUT_MS,
    },
  };
}

/**
 * Exactly one way to name Redis: a URL, a cluster's nodes, or sentinels (default: local Redis); with
 * Sentinel, the Sentinels' own credentials.
 */
function redisTargetOf(e: z.infer<typeof Env>): RedisTarget {
  const target = namedRedisTarget(e);
  const sentinel = {
    ...(e.REDIS_SENTINEL_USERNAME ? { sentinelUsername: e.REDIS_SENTINEL_USERNAME } : {}),
    ...(e.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: e.REDIS_SENTINEL_PASSWORD } : {}),
  };
  if (Object.keys(sentinel).length === 0) return target;
  if (target.mode !== 'sentinel') {
    const variable = e.REDIS_SENTINEL_PASSWORD ? 'REDIS_SENTINEL_PASSWORD' : 'REDIS_SENTINEL_USERNAME';
    throw new ConfigError(
      `invalid configuration:\n  ${variable}: only with Sentinel (Redis is ${target.mode} here)`,
    );
  }
  return { ...target, ...sentinel };
}

function namedRedisTarget(e: z.infer<typeof Env>): RedisTarget {
  const given = [
    e.REDIS_URL && 'REDIS_URL',
    e.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES',
    e.REDIS_SENTINELS && 'REDIS_SENTINELS',
  ].filter(Boolean);
  const fail = (variable: string, message: string): never => {
    throw new ConfigError(`invalid configuration:\n  ${variable}: ${message}`);
  };
  if (given.length > 1) fail(given.join(', '), 'set only one of them');
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER)
    fail('REDIS_SENTINEL_MASTER', "is required with REDIS_SENTINELS (the master's name)");
  const credentials = {
    tls: false,
    ...(e.REDIS_USERNAME ? { username: e.REDIS_USERNAME } : {}),
    ...(e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {}),
  };
  if (e.REDIS_CLUSTER_NODES)
    return { mode: 'cluster', nodes: parseHostList(e.REDIS_CLUSTER_NODES, 6379), ...credentials };
  if (e.REDIS_SENTINELS && e.REDIS_SENTINEL_MASTER)
    return {
      mode: 'sentinel',
      sentinels: parseHostList(e.REDIS_SENTINELS, 26379),
      masterName: e.REDIS_SENTINEL_MASTER,
      ...credentials,
    };
  return parseRedisUrl(e.REDIS_URL ?? 'redis://127.0.0.1:6379');
}
