import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { booted, dataNodeArgs, startOnFreePorts } from './redis-node.js';
import type { RedisServerOptions, TestRedis } from './redis-types.js';
import { awaitReady } from './startup.js';

/** A free TCP port on loopback, as the kernel hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server for one test suite: its own port and directory, so suites can
 * run in parallel and restart their Redis without touching anyone else's.
 */
export class RedisServer implements TestRedis {
  readonly mode = 'single' as const;
  private process: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  static start(options: RedisServerOptions = {}): Promise<RedisServer> {
    return startOnFreePorts(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'camfleet-redis-'));
      const server = new RedisServer(await freePort(), dir, options);
      return booted(server, () => server.boot());
    });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async boot(): Promise<void> {
    const args = dataNodeArgs(this.port, this.dir, this.options);
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    await awaitReady(
      child,
      'redis-server',
      (output) => output.includes('Ready to accept connections'),
      10_000,
    );
  }

  /** Stops Redis the way an orchestrator would (SIGTERM: it flushes the AOF) or abruptly (SIGKILL). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.process = null;
  }

  /** Freezes Redis (SIGSTOP) for a while, then lets it go on: a stalled server, not a dead one. */
  async pause(ms: number): Promise<void> {
    this.process?.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.process?.kill('SIGCONT');
  }

  /** Same port, same directory: what a restarted Redis pod with a persistent volume looks like. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.boot();
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}
