import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { awaitReady } from './startup.js';

/** The workspace root. */
export const ROOT = join(import.meta.dirname, '..', '..', '..');
export interface Tokens {
  admin: string;
  enroll: string;
}
export const TEST_TOKENS: Tokens = { admin: 'e2e-admin-token-0123', enroll: 'e2e-enroll-token-0123' };

/** Runs a TypeScript entry point of the workspace the way `pnpm <script>` does, without pnpm's startup. */
function spawnTs(
  entry: string,
  args: string[],
  env: Record<string, string>,
  stdio: 'pipe' | 'inherit' = 'pipe',
  nodeArgs: readonly string[] = [],
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...(stdio === 'pipe' ? { NO_COLOR: '1' } : {}), ...env },
    stdio: ['ignore', stdio, stdio === 'pipe' ? 'pipe' : 'inherit'],
  });
}

/** A server pod as a real process: what kill -9 means is what Kubernetes means. */
export class PodProcess {
  output = '';
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(
    redisUrl: string,
    name: string,
    env: Record<string, string> = {},
    tokens: Tokens = TEST_TOKENS,
    /** Flags for node itself, e.g. `--cpu-prof`. */
    nodeArgs: readonly string[] = [],
  ): Promise<PodProcess> {
    const child = spawnTs(
      'apps/server/src/main.ts',
      [],
      {
        REDIS_URL: redisUrl,
        PORT: '0',
        HOST: '127.0.0.1',
        FLEET_ADMIN_TOKEN: tokens.admin,
        FLEET_ENROLL_TOKEN: tokens.enroll,
        FLEET_NODE_ID: name,
        FLEET_SWEEP_INTERVAL_MS: '100',
        FLEET_LEASE_MS: '3000',
        FLEET_SHUTDOWN_GRACE_MS: '1000',
        ...env,
      },
      'pipe',
      nodeArgs,
    );
    const { value: url } = await awaitReady(
      child,
      `pod ${name}`,
      (output) => /"url":"(http:\/\/[^"]+)".*"msg":"listening"/.exec(output)?.[1],
      // A bound on a failure only: on a loaded 2-core machine tsx alone may take 20 s.
      60_000,
    );
    const pod = new PodProcess(child, url);
    child.stdout?.on('data', (chunk: Buffer) => {
      pod.output += chunk.toString();
    });
    return pod;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const [code] = (await once(this.child, 'exit')) as [number | null];
    return code;
  }
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): Promise<ProcessResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** `fleet ...` as an operator runs it. */
/** The bucket growth job (`pnpm grow-buckets --to N`) on the pods' Redis: a process to kill or await. */
export function startGrowBuckets(
  redisUrl: string,
  to: number,
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<ProcessResult> } {
  const child = spawnTs('apps/server/src/grow-buckets.ts', ['--to', String(to)], {
    REDIS_URL: redisUrl,
    ...env,
  });
  return { child, done: collect(child) };
}

export function runFleet(
  url: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ProcessResult> {
  return collect(spawnFleet(url, args, env));
}

export function spawnFleet(
  url: string,
  args: string[],
  env: Record<string, string> = {},
  stdio: 'pipe' | 'inherit' = 'pipe',
): ChildProcess {
  return spawnTs(
    'apps/cli/src/main.ts',
    args,
    { FLEET_URL: url, FLEET_TOKEN: TEST_TOKENS.admin, ...env },
    stdio,
  );
}

/** A simulator process; resolves when it exits. */
export function startSim(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<ProcessResult> } {
  const child = spawnTs('apps/device-sim/src/main.ts', args, {
    FLEET_ENROLL_TOKEN: TEST_TOKENS.enroll,
    ...env,
  });
  return { child, done: collect(child) };
}
