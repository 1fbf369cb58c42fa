import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import type { RedisServerOptions } from './redis-types.js';
import { awaitReady } from './startup.js';

/**
 * `count` distinct free loopback ports. All are held open until the last is found, so the kernel
 * cannot hand out the same one twice (calling freePort() n times can).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((server) => {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : 0;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * Runs a start that listens on ports from freePorts again, with new ones, while a port was taken
 * between the pick and the bind: on a busy machine, outgoing connections draw from the same
 * range, so a port found free can be someone's a moment later. `start` cleans up after itself.
 */
export async function startOnFreePorts<T>(start: () => Promise<T>, tries = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      const taken = error instanceof Error && error.message.includes('Address already in use');
      if (!taken || attempt >= tries) throw error;
    }
  }
}

/** `server` once `boot` succeeded; destroyed (processes stopped, directory removed) if it failed. */
export async function booted<T extends { destroy(): Promise<void> }>(
  server: T,
  boot: () => Promise<void>,
): Promise<T> {
  try {
    await boot();
    return server;
  } catch (error) {
    await server.destroy();
    throw error;
  }
}

/** The settings every data node gets, single or not: persistence and limits as production runs them. */
export function dataNodeArgs(port: number, dir: string, options: RedisServerOptions): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--maxclients',
    '50000',
    ...(options.enableDebug ? ['--enable-debug-command', 'local'] : []),
  ];
}

/** `--name value` pairs as redis.conf lines, for servers that must rewrite their own config. */
export function configFile(args: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '');
    const value = args[i + 1] ?? '';
    lines.push(`${name} ${/^[\w./:-]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One redis-server process of a multi-node setup, at a fixed port and directory so it can be killed
 * and brought back as the same node (cluster nodes.conf, AOF and rewritten configs live in its dir).
 */
export class RedisNode {
  private process: ChildProcess | null = null;
  private output: () => string = () => '';
  /** Destroyed: a start() still on its way (a timed-out test's restart) must not outlive it. */
  private destroyed = false;
  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: readonly string[],
    /** What its log says once it serves: data nodes and sentinels say different things. */
    private readonly readyLine = 'Ready to accept connections',
  ) {}

  get running(): boolean {
    const child = this.process;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.destroyed) throw new Error(`redis-server :${this.port} was destroyed`);
    if (this.running) return;
    const child = spawn('redis-server', [...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    const { output } = await awaitReady(
      child,
      `redis-server :${this.port}`,
      (log) => log.includes(this.readyLine),
      30_000,
    );
    this.output = output;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    // A stopped process queues SIGTERM until it runs again: wake it so stop() cannot hang.
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
    // Redis 7.0 drops a SIGTERM it cannot act on yet and runs on: a replica rewriting its AOF
    // after a full sync logs "Writing initial AOF, can't exit." So ask again until it goes.
    const again = signal === 'SIGKILL' ? undefined : setInterval(() => child.kill(signal), 1_000);
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const log = this.log().split('\n').slice(-20).join('\n');
        reject(new Error(`redis-server :${this.port} did not exit on ${signal} in 30 s:\n${log}`));
      }, 30_000);
    });
    try {
      await Promise.race([exited, stuck]);
    } finally {
      clearInterval(again);
      clearTimeout(timer);
    }
    this.process = null;
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.stop('SIGKILL');
  }

  /** Its log since it last started, for errors that need to say why. */
  log(): string {
    return this.output();
  }

  /** SIGSTOP / SIGCONT: a stalled node, not a dead one. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.running) this.process?.kill(signal);
  }
}
