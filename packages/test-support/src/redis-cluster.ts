import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInfo, redisCli, redisInfo } from './redis-cli.js';
import { booted, dataNodeArgs, freePorts, RedisNode, startOnFreePorts } from './redis-node.js';
import type { Failover, RedisServerOptions, TestRedis } from './redis-types.js';
import { waitFor } from './wait.js';

export interface RedisClusterOptions extends RedisServerOptions {
  /** At least 3: redis-cli will not create a cluster with fewer. */
  masters?: number;
  replicasPerMaster?: number;
  /**
   * cluster-node-timeout. 5 s by default (not Redis's 15 s): a healthy node that a loaded test machine
   * does not schedule for a second must not be failed over behind a test's back. Tests that kill a
   * master pass 1 s, so the failover takes seconds.
   */
  nodeTimeoutMs?: number;
}

export interface ClusterMaster {
  port: number;
  /** As CLUSTER NODES lists them, e.g. `0-5460`. */
  slots: string;
}

/** A slot half-way to another master (RedisClusterServer.beginSlotMove). */
export interface SlotMove {
  fromPort: number;
  toPort: number;
  /** The slot's keys still on the old master. */
  keysLeft(): Promise<string[]>;
  /** Moves these keys to the new master. */
  migrate(keys: readonly string[]): Promise<void>;
  /** Moves the rest and makes the new master the slot's owner on every node. */
  finish(): Promise<void>;
}

/** Every slot of a master, from its ranges (`0-5460 10923`). */
export function slotsOf(master: ClusterMaster): number[] {
  return master.slots.split(' ').flatMap((range) => {
    if (range === '') return [];
    const [from = 0, to = from] = range.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

export interface ClusterReplica {
  port: number;
  masterPort: number;
}

const SLOTS = 16_384;
/** Any wait for Redis to start or settle: generous, the test machine is two shared cores. */
const SETTLE_MS = 30_000;

/** One line of CLUSTER NODES, as the node that was asked sees it. */
interface NodeView {
  id: string;
  port: number;
  flags: string[];
  masterId: string | null;
  slots: string;
}

/** Ordered by slot (masters from slot 0 up, then replicas by port), so "the first master" is stable. */
function parseClusterNodes(text: string): NodeView[] {
  const firstSlot = (view: NodeView) => (view.slots === '' ? SLOTS : Number.parseInt(view.slots, 10));
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      return {
        id,
        // ip:port@busport[,hostname]
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: flags.split(','),
        masterId: master === '-' ? null : master,
        // Slots being migrated show as [slot->-id]: not owned yet, so not listed.
        slots: slots.filter((slot) => !slot.startsWith('[')).join(' '),
      };
    })
    .sort((a, b) => firstSlot(a) - firstSlot(b) || a.port - b.port);
}

const failed = (view: NodeView) => view.flags.includes('fail') || view.flags.includes('noaddr');
const isMaster = (view: NodeView) => view.flags.includes('master') && !failed(view);

/**
 * A private Redis Cluster for one suite: masters × (1 + replicas) redis-server processes on free
 * loopback ports, each with its own directory (nodes.conf, AOF) under one temporary directory, so
 * nodes can be killed and revived as themselves.
 */
export class RedisClusterServer implements TestRedis {
  readonly mode = 'cluster' as const;
  private constructor(
    readonly dir: string,
    private readonly nodes: readonly RedisNode[],
  ) {}

  static start(options: RedisClusterOptions = {}): Promise<RedisClusterServer> {
    return startOnFreePorts(() => RedisClusterServer.startOnce(options));
  }

  private static async startOnce(options: RedisClusterOptions): Promise<RedisClusterServer> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 1;
    if (masters < 3) throw new Error(`a Redis Cluster needs at least 3 masters (asked for ${masters})`);
    const count = masters * (1 + replicas);
    const dir = await mkdtemp(join(tmpdir(), 'camfleet-redis-cluster-'));
    // The cluster bus listens on port + 10000 unless told otherwise: past 65535 for a kernel-chosen
    // port above 55535, and nobody checked it was free. Give each node a free one (cluster-port, 7.0+).
    const ports = await freePorts(count * 2);
    const nodes: RedisNode[] = [];
    for (let i = 0; i < count; i++) {
      const port = ports[i]!;
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir);
      nodes.push(
        new RedisNode(port, nodeDir, [
          ...dataNodeArgs(port, nodeDir, options),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(ports[count + i]),
          '--cluster-node-timeout',
          String(options.nodeTimeoutMs ?? 5_000),
          // A replica that lost its master's link for longer than node-timeout × factor refuses
          // to fail over. With a short timeout on a busy test machine (or after pause()) that can
          // leave slots without a master for good: 0 means a replica always steps up.
          '--cluster-replica-validity-factor',
          '0',
          // Replicas sync at once instead of waiting 5 s for more replicas to share the transfer.
          '--repl-diskless-sync-delay',
          '0',
        ]),
      );
    }
    const cluster = new RedisClusterServer(dir, nodes);
    return booted(cluster, async () => {
      await Promise.all(nodes.map((node) => node.start()));
      await redisCli(
        nodes[0]!.port,
        [
          '--cluster',
          'create',
          ...nodes.map((node) => `127.0.0.1:${node.port}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeoutMs: 60_000 },
      );
      await cluster.awaitHealthy('the cluster to form');
    });
  }

  /** Every node as a seed: a client finds the cluster through whichever still answers. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`;
  }

  get ports(): number[] {
    return this.nodes.map((node) => node.port);
  }

  /** Masters that own slots, as a live node sees the cluster now. */
  async masters(): Promise<ClusterMaster[]> {
    const views = await this.clusterNodes();
    return views
      .filter((view) => isMaster(view) && view.slots !== '')
      .map(({ port, slots }) => ({ port, slots }));
  }

  async replicas(): Promise<ClusterReplica[]> {
    const views = await this.clusterNodes();
    const portOf = new Map(views.map((view) => [view.id, view.port]));
    return views
      .filter((view) => view.flags.includes('slave') && !failed(view))
      .map((view) => ({ port: view.port, masterPort: portOf.get(view.masterId ?? '') ?? 0 }));
  }

  /**
   * SIGKILLs a master that has a live replica (the given one, or the first), then waits until a
   * replica took over and every live node is ok with it.
   */
  async killMaster(port?: number): Promise<Failover> {
    const views = await this.clusterNodes();
    const replicasOf = (master: NodeView) =>
      views
        .filter((view) => view.masterId === master.id && this.node(view.port).running)
        .map((view) => view.port);
    const victim = views.find(
      (view) =>
        isMaster(view) &&
        view.slots !== '' &&
        (port === undefined || view.port === port) &&
        replicasOf(view).length > 0,
    );
    if (!victim)
      throw new Error(`no live master with a live replica${port === undefined ? '' : ` at ${port}`}`);
    const candidates = replicasOf(victim);
    const killedAt = performance.now();
    await this.node(victim.port).stop('SIGKILL');
    const promotedPort = await waitFor(
      async () => {
        for (const candidate of candidates) {
          if ((await redisInfo(candidate, 'replication')).get('role') === 'master') return candidate;
        }
        return null;
      },
      {
        timeoutMs: SETTLE_MS,
        intervalMs: 50,
        what: `a replica of ${victim.port} (${candidates}) to take over`,
      },
    );
    await this.awaitHealthy(`the cluster to be ok again after ${victim.port} died`);
    return { killedPort: victim.port, promotedPort, failoverMs: Math.round(performance.now() - killedAt) };
  }

  /** Starts a killed node again as itself; it rejoins as a replica of whoever took over its slots. */
  async reviveNode(port: number): Promise<void> {
    const node = this.node(port);
    if (node.running) throw new Error(`node ${port} is running`);
    await node.start();
    await waitFor(
      async () => {
        const info = await redisInfo(port, 'replication');
        return info.get('role') === 'slave' && info.get('master_link_status') === 'up';
      },
      { timeoutMs: SETTLE_MS, intervalMs: 100, what: `node ${port} to rejoin as a replica` },
    );
    await this.awaitHealthy(`the cluster to be ok with ${port} back`);
  }

  /** The master serving a slot now. */
  async ownerOf(slot: number): Promise<ClusterMaster> {
    const owner = (await this.masters()).find((master) => slotsOf(master).includes(slot));
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner;
  }

  /** The hash slot of each key (CLUSTER KEYSLOT), in one redis-cli. */
  async keySlots(keys: readonly string[]): Promise<number[]> {
    const port = this.nodes.find((node) => node.running)?.port ?? 0;
    const lines = keys.map((key) => `CLUSTER KEYSLOT "${key.replace(/["\\]/g, '\\$&')}"`).join('\n');
    const output = await redisCli(port, [], { input: `${lines}\n` });
    return output.split('\n').map(Number);
  }

  /**
   * Moves the first `count` slots of one master to another with `redis-cli --cluster reshard`, as an
   * operator adding a node does: the keys move in batches (MIGRATE) while clients keep running.
   */
  async reshard(fromPort: number, toPort: number, count: number): Promise<void> {
    const [from, to] = await Promise.all([this.idOf(fromPort), this.idOf(toPort)]);
    await redisCli(
      fromPort,
      [
        '--cluster',
        'reshard',
        `127.0.0.1:${fromPort}`,
        '--cluster-from',
        from,
        '--cluster-to',
        to,
        '--cluster-slots',
        String(count),
        '--cluster-yes',
      ],
      { timeoutMs: 120_000 },
    );
    await this.awaitHealthy(`the cluster to be ok after moving ${count} slots from ${fromPort} to ${toPort}`);
  }

  /**
   * Starts moving one slot to another master the way redis-cli's reshard does, one step at a time
   * (IMPORTING and MIGRATING, MIGRATE of the keys, SETSLOT NODE), so a test can act between steps.
   */
  async beginSlotMove(slot: number, toPort: number): Promise<SlotMove> {
    const fromPort = (await this.ownerOf(slot)).port;
    if (fromPort === toPort) throw new Error(`slot ${slot} is already served by ${toPort}`);
    const [from, to] = await Promise.all([this.idOf(fromPort), this.idOf(toPort)]);
    await redisCli(toPort, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from]);
    await redisCli(fromPort, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to]);
    const keysLeft = async () =>
      (await redisCli(fromPort, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '100000']))
        .split('\n')
        .filter((key) => key !== '');
    const migrate = async (keys: readonly string[]) => {
      if (keys.length > 0)
        await redisCli(fromPort, ['MIGRATE', '127.0.0.1', String(toPort), '', '0', '10000', 'KEYS', ...keys]);
    };
    return {
      fromPort,
      toPort,
      keysLeft,
      migrate,
      finish: async () => {
        await migrate(await keysLeft());
        // The new owner first, then the old one, then everyone else (as redis-cli does).
        const masters = await this.masters();
        const order = [
          toPort,
          fromPort,
          ...masters.map((m) => m.port).filter((p) => p !== toPort && p !== fromPort),
        ];
        for (const port of order) await redisCli(port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', to]);
        await this.awaitHealthy(`the cluster to be ok with slot ${slot} on ${toPort}`);
      },
    };
  }

  private async idOf(port: number): Promise<string> {
    return redisCli(port, ['CLUSTER', 'MYID']);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    // All at once: one node gone for longer than node-timeout while the rest run is a failover.
    await Promise.all(this.nodes.map((node) => node.stop(signal)));
  }

  /** Every node, killed ones too, back on its port with its nodes.conf (and AOF): the same cluster. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await Promise.all(this.nodes.map((node) => node.start()));
    await this.awaitHealthy('the cluster to be ok after a restart');
  }

  /**
   * Stalls every node for `ms`. Like RedisServer.pause it returns once Redis serves again; a pause
   * past node-timeout can end in a failover, and this waits for the cluster to settle on it.
   */
  async pause(ms: number): Promise<void> {
    for (const node of this.nodes) node.signal('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, ms));
    for (const node of this.nodes) node.signal('SIGCONT');
    await this.awaitHealthy('the cluster to be ok after a pause');
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.destroy()));
    await rm(this.dir, { recursive: true, force: true });
  }

  async flushAll(): Promise<void> {
    await Promise.all((await this.masters()).map(({ port }) => redisCli(port, ['FLUSHALL'])));
  }

  private node(port: number): RedisNode {
    const node = this.nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node at ${port} in this cluster`);
    return node;
  }

  /** CLUSTER NODES from the first live node that answers. */
  private async clusterNodes(): Promise<NodeView[]> {
    let lastError: unknown = new Error('no node is running');
    for (const node of this.nodes.filter((candidate) => candidate.running)) {
      try {
        return parseClusterNodes(await redisCli(node.port, ['CLUSTER', 'NODES'], { timeoutMs: 2_000 }));
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /**
   * Waits until clients can use it. What that means: every live node says cluster_state:ok with all slots ok, knows
   * every node, sees the same live masters owning the slots, and every replica's link is up.
   */
  async awaitHealthy(what = 'the cluster to settle'): Promise<void> {
    const live = () => this.nodes.filter((node) => node.running);
    const check = async (): Promise<boolean> => {
      // Cheapest first: while the cluster settles, one redis-cli per node per poll.
      const infos = await Promise.all(
        live().map((node) => redisCli(node.port, ['CLUSTER', 'INFO'], { timeoutMs: 2_000 })),
      );
      for (const info of infos.map(parseInfo)) {
        if (info.get('cluster_state') !== 'ok') return false;
        if (info.get('cluster_slots_ok') !== String(SLOTS)) return false;
        if (info.get('cluster_known_nodes') !== String(this.nodes.length)) return false;
      }
      const views = await Promise.all(
        live().map(async (node) =>
          parseClusterNodes(await redisCli(node.port, ['CLUSTER', 'NODES'], { timeoutMs: 2_000 })),
        ),
      );
      // A node that has not heard of a failover yet still routes the slots to the dead master.
      const owners = views.map((view) =>
        view
          .filter((entry) => isMaster(entry) && entry.slots !== '')
          .map((entry) => `${entry.port}:${entry.slots}`)
          .sort()
          .join(' '),
      );
      if (new Set(owners).size !== 1) return false;
      const ownerPorts = views[0]!
        .filter((entry) => isMaster(entry) && entry.slots !== '')
        .map((entry) => entry.port);
      if (!ownerPorts.every((port) => this.node(port).running)) return false;
      const replicas = live().filter((node) => !ownerPorts.includes(node.port));
      // A replica's INFO says slave before gossip tells the other nodes: until every node lists it
      // as the replica of an owner, CLUSTER NODES (and a client's slot map) still shows a bare master.
      const ownerIds = new Set(
        views[0]!.filter((entry) => ownerPorts.includes(entry.port)).map((entry) => entry.id),
      );
      const listedAsReplica = (view: NodeView[], port: number) =>
        view.some(
          (entry) =>
            entry.port === port &&
            entry.flags.includes('slave') &&
            !failed(entry) &&
            ownerIds.has(entry.masterId ?? ''),
        );
      if (!views.every((view) => replicas.every((node) => listedAsReplica(view, node.port)))) return false;
      const links = await Promise.all(replicas.map((node) => redisInfo(node.port, 'replication')));
      return links.every((info) => info.get('role') === 'slave' && info.get('master_link_status') === 'up');
    };
    await waitFor(check, { timeoutMs: SETTLE_MS, intervalMs: 100, what });
  }
}
