import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './target.js';

/** A connection to whichever engine runs Redis: the same commands, scripts and pipelines. */
export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  /** CLIENT SETNAME: who holds the connection, as `CLIENT LIST` shows it. */
  name: string;
  /**
   * A subscriber for sharded pub/sub. In a cluster it holds one connection per master, each
   * following the slots it subscribed to; elsewhere it is an ordinary connection.
   */
  subscriber?: boolean;
  /**
   * Queue commands while Redis is away and retry them (pods: a restart or failover is waited
   * out). Without it, a command fails after a few reconnect attempts (tools, tests).
   */
  waitOutOutages?: boolean;
}

/**
 * A write refused because the node is a replica now (a master demoted after a failover, while this
 * connection stayed on it): reconnect, which finds the current master, and send the command again
 * (a script refused this way wrote nothing).
 */
const onDemotedMaster = (error: Error): 2 | false => (error.message.startsWith('READONLY') ? 2 : false);

/** Reconnect quickly at first, then every 2 s: a restart or failover takes seconds. */
const reconnectDelay = (attempt: number): number => Math.min(50 * 2 ** attempt, 2_000);

/**
 * How long a cluster command keeps retrying while its slot has no reachable master: every 200 ms,
 * up to 100 times (20 s), which covers a failover with the default cluster-node-timeout (15 s).
 */
const CLUSTER_RETRY_MS = 200;
const CLUSTER_MAX_RETRIES = 100;

export function connectRedis(target: RedisTarget, options: ConnectOptions): RedisClient {
  const common: RedisOptions = {
    // RESP2 explicitly: ioredis 6 defaults to RESP3, whose replies our parsers do not expect.
    protocol: 2,
    connectionName: options.name,
    maxRetriesPerRequest: options.waitOutOutages ? null : 20,
    retryStrategy: reconnectDelay,
    reconnectOnError: onDemotedMaster,
  };
  switch (target.mode) {
    case 'single':
      return new Redis(target.url, { ...common, enableAutoPipelining: !options.subscriber });
    case 'sentinel': {
      const client = new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.masterName,
        role: 'master',
        ...credentialsOf(target),
        ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
        ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(target.tls ? { tls: {} } : {}),
        sentinelRetryStrategy: reconnectDelay,
        // Sentinel announces a new master on +switch-master: follow it at once, not on the next error.
        failoverDetector: true,
        enableAutoPipelining: !options.subscriber,
      });
      reconnectWhenCutOff(client);
      return client;
    }
    case 'cluster': {
      const cluster: ClusterOptions = {
        redisOptions: { ...common, ...credentialsOf(target), ...(target.tls ? { tls: {} } : {}) },
        // Commands are grouped per master node each tick: one round trip per node, not per command.
        enableAutoPipelining: !options.subscriber,
        shardedSubscribers: options.subscriber === true,
        // Re-read the slot map every 2 s (off by default): a connection whose commands all go out in
        // pipelines learns of a failover here, not only from a MOVED reply it may not retry.
        slotsRefreshInterval: 2_000,
        clusterRetryStrategy: reconnectDelay,
        retryDelayOnFailover: CLUSTER_RETRY_MS,
        retryDelayOnClusterDown: CLUSTER_RETRY_MS,
        retryDelayOnTryAgain: CLUSTER_RETRY_MS,
        maxRedirections: options.waitOutOutages ? CLUSTER_MAX_RETRIES : 16,
        // No per-node reconnects (the default): a dead master's connection fails its commands, and
        // the cluster retries them on the slot map it refreshes. Reconnecting to the dead node would
        // hold them in that node's queue for good.
      };
      return new Cluster(target.nodes, cluster);
    }
  }
}

/** ioredis' message for a connection (or a connect attempt) that was closed. */
const CONNECTION_CLOSED = 'Connection is closed.';

/**
 * ioredis ends a Sentinel connection for good when a connect attempt is cut off: the failover
 * detector of the connection that just died still listens, and its `+switch-master` closes the
 * connector while a reconnect is asking the Sentinels for the master. The attempt fails with
 * "Connection is closed." while `connecting`, and ioredis leaves the client in `end`, every command
 * refused from then on: a pod would lose Redis for good on a failover. Connect again instead. A
 * connection closed on purpose (disconnect, quit) emits no such error, and stays closed.
 */
function reconnectWhenCutOff(client: Redis): void {
  let cutOff = false;
  client.on('error', (error: Error) => {
    if (error.message === CONNECTION_CLOSED && client.status === 'connecting') cutOff = true;
  });
  client.on('end', () => {
    if (!cutOff) return;
    cutOff = false;
    setTimeout(() => client.connect().catch(() => undefined), reconnectDelay(1));
  });
}

function credentialsOf(target: { username?: string; password?: string }): RedisOptions {
  return {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
  };
}

/**
 * The connections to send node-local commands to (SCRIPT LOAD, KEYS, INFO): every master of a
 * cluster, or the one server.
 */
export function mastersOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
