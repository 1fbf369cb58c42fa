import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCli, redisInfo } from './redis-cli.js';
import { booted, configFile, dataNodeArgs, freePorts, RedisNode, startOnFreePorts } from './redis-node.js';
import type { Failover, RedisServerOptions, TestRedis } from './redis-types.js';
import { waitFor } from './wait.js';

export interface RedisSentinelOptions extends RedisServerOptions {
  masterName?: string;
  replicas?: number;
  sentinels?: number;
  /**
   * Sentinel's down-after-milliseconds. 5 s by default: a healthy master that a loaded test machine
   * does not schedule for a second must not be failed over behind a test's back. Tests that kill the
   * master pass 1 s, so the failover takes seconds.
   */
  downAfterMs?: number;
  /**
   * One password for the data nodes (`requirepass`, `masterauth`) and the Sentinels (their own
   * `requirepass`, and `auth-pass` for the master): the url then carries the data nodes' password
   * and `podEnv` the Sentinels'.
   */
  password?: string;
}

/** Any wait for Redis to start or settle: generous, the test machine is two shared cores. */
const SETTLE_MS = 30_000;

/**
 * A private master/replica set watched by Sentinels, for one suite. Every process has its own
 * directory and config file: Sentinel rewrites its own, and sends CONFIG REWRITE to the data nodes
 * it reconfigures, so after a failover and a restart each node comes back in the role it last had.
 */
export class RedisSentinelServer implements TestRedis {
  readonly mode = 'sentinel' as const;
  private constructor(
    readonly dir: string,
    readonly masterName: string,
    private readonly dataNodes: readonly RedisNode[],
    private readonly sentinels: readonly RedisNode[],
    private readonly password?: string,
  ) {}

  static start(options: RedisSentinelOptions = {}): Promise<RedisSentinelServer> {
    return startOnFreePorts(() => RedisSentinelServer.startOnce(options));
  }

  private static async startOnce(options: RedisSentinelOptions): Promise<RedisSentinelServer> {
    const masterName = options.masterName ?? 'camfleet';
    const replicas = options.replicas ?? 1;
    const sentinelCount = options.sentinels ?? 3;
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-redis-sentinel-'));
    const ports = await freePorts(1 + replicas + sentinelCount);
    const masterPort = ports[0]!;
    const dataNodes: RedisNode[] = [];
    for (const port of ports.slice(0, 1 + replicas)) {
      const nodeDir = join(dir, `redis-${port}`);
      const conf = join(nodeDir, 'redis.conf');
      await mkdir(nodeDir);
      await writeFile(
        conf,
        configFile([
          ...dataNodeArgs(port, nodeDir, options),
          // Replicas sync at once instead of waiting 5 s for more replicas to share the transfer.
          '--repl-diskless-sync-delay',
          '0',
          ...(options.password !== undefined
            ? ['--requirepass', options.password, '--masterauth', options.password]
            : []),
        ]) + (port === masterPort ? '' : `replicaof 127.0.0.1 ${masterPort}\n`),
      );
      dataNodes.push(new RedisNode(port, nodeDir, [conf]));
    }
    const sentinels: RedisNode[] = [];
    const quorum = Math.floor(sentinelCount / 2) + 1;
    for (const port of ports.slice(1 + replicas)) {
      const sentinelDir = join(dir, `sentinel-${port}`);
      const conf = join(sentinelDir, 'sentinel.conf');
      await mkdir(sentinelDir);
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${JSON.stringify(sentinelDir)}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
          // Seconds, not the 30 s / 3 min defaults, so a failover fits in a test.
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 5_000}`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          ...(options.password !== undefined
            ? [
                `requirepass ${JSON.stringify(options.password)}`,
                `sentinel auth-pass ${masterName} ${JSON.stringify(options.password)}`,
              ]
            : []),
          '',
        ].join('\n'),
      );
      sentinels.push(new RedisNode(port, sentinelDir, [conf, '--sentinel'], 'Sentinel ID is'));
    }
    const server = new RedisSentinelServer(dir, masterName, dataNodes, sentinels, options.password);
    return booted(server, () => server.boot());
  }

  get url(): string {
    const sentinels = this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(',');
    const auth = this.password !== undefined ? `:${encodeURIComponent(this.password)}@` : '';
    return `redis+sentinel://${auth}${sentinels}/${this.masterName}`;
  }

  /** What a pod needs besides the url: the Sentinels' password, when they have one. */
  get podEnv(): Record<string, string> {
    return this.password !== undefined ? { REDIS_SENTINEL_PASSWORD: this.password } : {};
  }

  /** redis-cli options for this set's nodes (its password, if any). */
  private cli(timeoutMs?: number): { password?: string; timeoutMs?: number } {
    return {
      ...(this.password !== undefined ? { password: this.password } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    };
  }

  get sentinelPorts(): number[] {
    return this.sentinels.map((sentinel) => sentinel.port);
  }

  /** Master and replicas, whatever their roles are now. */
  get dataPorts(): number[] {
    return this.dataNodes.map((node) => node.port);
  }

  /** The master's port, as the first Sentinel that answers names it. */
  async currentMaster(): Promise<number> {
    let lastError: unknown = new Error('no sentinel is running');
    for (const sentinel of this.sentinels.filter((candidate) => candidate.running)) {
      try {
        return await this.masterNamedBy(sentinel.port);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /**
   * SIGKILLs the current master, then waits until every Sentinel names another node and that
   * node says it is a master: what a client asking any Sentinel needs.
   */
  async killMaster(): Promise<Failover> {
    const killedPort = await this.currentMaster();
    const killedAt = performance.now();
    await this.node(killedPort).stop('SIGKILL');
    const promotedPort = await waitFor(
      async () => {
        const named = await Promise.all(
          this.liveSentinels().map((sentinel) => this.masterNamedBy(sentinel.port)),
        );
        const port = named[0];
        if (port === undefined || port === killedPort || named.some((other) => other !== port)) return null;
        return (await redisInfo(port, 'replication', this.password)).get('role') === 'master' ? port : null;
      },
      { timeoutMs: SETTLE_MS, intervalMs: 100, what: `the sentinels to promote a replica of ${killedPort}` },
    );
    const failoverMs = Math.round(performance.now() - killedAt);
    await this.awaitHealthy(`the set to settle on ${promotedPort}`);
    return { killedPort, promotedPort, failoverMs };
  }

  /**
   * Starts a killed data node again as itself. Its config still says master; the Sentinels turn it
   * into a replica of the new master (after about 8 s: four hello periods), and this waits for that.
   */
  async reviveNode(port: number): Promise<void> {
    const node = this.node(port);
    if (node.running) throw new Error(`node ${port} is running`);
    await node.start();
    await this.awaitHealthy(`node ${port} to rejoin as a replica`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    // All at once: Sentinels that outlive the master by a second would fail it over.
    await Promise.all([...this.sentinels, ...this.dataNodes].map((node) => node.stop(signal)));
  }

  /**
   * Every data node (killed ones too) and every Sentinel, back on their ports with their configs.
   * After a killMaster() this takes ~10 s: the dead master's config still says master, and a
   * Sentinel waits 8 s (4 hello periods) before it turns a master it thinks is a replica back into one.
   */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.boot();
  }

  /**
   * Stalls the data nodes (not the Sentinels) for `ms`. Returns once a master serves again; a pause
   * past down-after-milliseconds can end in a failover, and this waits for it to settle.
   */
  async pause(ms: number): Promise<void> {
    for (const node of this.dataNodes) node.signal('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, ms));
    for (const node of this.dataNodes) node.signal('SIGCONT');
    await this.awaitHealthy('the set to settle after a pause');
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.dataNodes].map((node) => node.destroy()));
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Data nodes first, linked up, then Sentinels: a Sentinel learns replicas from the master's INFO,
   * which it asks at once and then only every 10 s, so replicas it misses at first stay unknown a while.
   */
  private async boot(): Promise<void> {
    await Promise.all(this.dataNodes.map((node) => node.start()));
    await waitFor(
      async () => {
        // Only links: after a failover the dead master's config still says master, and it is
        // the Sentinels (not up yet) that turn it into a replica.
        const infos = await Promise.all(
          this.dataNodes.map((node) => redisInfo(node.port, 'replication', this.password)),
        );
        return infos.every(
          (info) => info.get('role') === 'master' || info.get('master_link_status') === 'up',
        );
      },
      { timeoutMs: SETTLE_MS, intervalMs: 100, what: 'the replicas to sync' },
    );
    await Promise.all(this.sentinels.map((sentinel) => sentinel.start()));
    await this.awaitHealthy('the sentinels to see the master, its replicas and each other');
  }

  private node(port: number): RedisNode {
    const node = this.dataNodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no data node at ${port} in this set`);
    return node;
  }

  private liveSentinels(): RedisNode[] {
    return this.sentinels.filter((sentinel) => sentinel.running);
  }

  private async masterNamedBy(sentinelPort: number): Promise<number> {
    const reply = await redisCli(
      sentinelPort,
      ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName],
      this.cli(2_000),
    );
    const port = Number(reply.split('\n')[1]);
    if (!Number.isInteger(port) || port <= 0)
      throw new Error(`sentinel ${sentinelPort} names no master: ${reply}`);
    return port;
  }

  /** SENTINEL MASTER's flat field/value list as a map. */
  private async sentinelView(sentinelPort: number): Promise<Map<string, string>> {
    const lines = (
      await redisCli(sentinelPort, ['SENTINEL', 'MASTER', this.masterName], this.cli(2_000))
    ).split('\n');
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) fields.set(lines[i]!, lines[i + 1]!);
    return fields;
  }

  /**
   * Every Sentinel names the same master, thinks it up (flags exactly `master`: no s_down, no
   * failover in progress), knows all other data nodes and Sentinels; the master says so itself and
   * every other live data node replicates from it with its link up.
   */
  private async awaitHealthy(what: string): Promise<void> {
    const check = async (): Promise<boolean> => {
      const views = await Promise.all(
        this.liveSentinels().map((sentinel) => this.sentinelView(sentinel.port)),
      );
      const masterPort = Number(views[0]?.get('port'));
      const agreed = views.every(
        (view) =>
          Number(view.get('port')) === masterPort &&
          view.get('flags') === 'master' &&
          view.get('num-slaves') === String(this.dataNodes.length - 1) &&
          view.get('num-other-sentinels') === String(this.sentinels.length - 1),
      );
      if (!agreed || !this.node(masterPort).running) return false;
      const live = this.dataNodes.filter((node) => node.running);
      const infos = await Promise.all(live.map((node) => redisInfo(node.port, 'replication', this.password)));
      return live.every((node, i) => {
        const info = infos[i]!;
        if (node.port === masterPort) return info.get('role') === 'master';
        return (
          info.get('role') === 'slave' &&
          info.get('master_port') === String(masterPort) &&
          info.get('master_link_status') === 'up'
        );
      });
    };
    await waitFor(check, { timeoutMs: SETTLE_MS, intervalMs: 100, what });
  }
}
