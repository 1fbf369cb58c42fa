import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from './wait.js';

/**
 * Drives Debian's real `swupdate` (2022.12) as an off-the-shelf hawkBit DDI agent: signed .swu
 * images, local installs, and suricatta as a child process. See ../shared/notes/swupdate-ddi.md.
 * Every swupdate run gets its own TMPDIR (its control sockets `sockinstctrl`, `swupdateprog` live
 * there) and its own process group, so nothing it forks outlives the test.
 */

export const SWUPDATE_HARDWARE = 'camfleet:1.0';

export interface SigningKey {
  certPath: string;
  keyPath: string;
}

/** Runs a short command to completion; rejects on a nonzero exit, with its stderr. */
function run(command: string, args: string[], cwd: string, input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
    child.stdin.end(input);
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * A throwaway self-signed certificate for signing sw-description. A plain `req -x509` one is
 * enough: swupdate's default `--cert-purpose emailProtection` accepts a certificate without
 * keyUsage/extendedKeyUsage extensions, and `-k cert.pem` is the verifying certificate itself.
 */
export async function makeSigningKey(dir: string): Promise<SigningKey> {
  await mkdir(dir, { recursive: true });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const req = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath];
  await run('openssl', [...req, '-days', '2', '-subj', '/CN=camfleet-test'], dir);
  return { certPath, keyPath };
}

export interface BuildSwuOptions {
  /** Where the image is built (in a fresh subdirectory of it). */
  dir: string;
  signing: SigningKey;
  version: string;
  /** The payload's file name inside the archive: a plain name, no slashes. */
  payloadName: string;
  payload: Buffer;
  /** Absolute path the `rawfile` handler writes the payload to (parent directories are created). */
  installPath: string;
  /** `board:revision`; the revision goes into `hardware-compatibility`. Default 'camfleet:1.0'. */
  hardware?: string;
  /** Declare a wrong sha256 for the payload, so the install fails its hash check. */
  corruptHash?: boolean;
}

export interface Swu {
  path: string;
  /** The .swu file's own sha256 and size (what a DDI server announces). */
  sha256: string;
  size: number;
  /** The sw-description as written into the image. */
  description: string;
}

/** A libconfig string literal; refuses what it cannot quote safely. */
function quote(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value))
    throw new Error(`not a printable ASCII string: ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The sw-description that swupdate 2022.12 accepts: one plain file installed by `rawfile`. */
export function swDescription(options: {
  version: string;
  revision: string;
  payloadName: string;
  installPath: string;
  sha256: string;
}): string {
  return `software =
{
  version = ${quote(options.version)};
  hardware-compatibility = [ ${quote(options.revision)} ];
  files: (
    {
      filename = ${quote(options.payloadName)};
      path = ${quote(options.installPath)};
      type = "rawfile";
      sha256 = ${quote(options.sha256)};
      properties: { create-destination = "true"; };
    }
  );
}
`;
}

/**
 * Builds a signed .swu: sw-description (CMS-signed as sw-description.sig) and one payload, as a
 * `cpio -H crc` archive in the order swupdate insists on.
 */
export async function buildSwu(options: BuildSwuOptions): Promise<Swu> {
  const { payloadName } = options;
  if (!/^[\w.-]+$/.test(payloadName) || payloadName.startsWith('sw-description')) {
    throw new Error(`payloadName must be a plain file name: ${payloadName}`);
  }
  const [, revision] = (options.hardware ?? SWUPDATE_HARDWARE).split(':');
  if (!revision) throw new Error(`hardware must be board:revision, got ${options.hardware}`);
  await mkdir(options.dir, { recursive: true });
  const stage = await mkdtemp(join(options.dir, 'swu-'));

  let hash = sha256(options.payload);
  if (options.corruptHash) hash = (hash[0] === '0' ? '1' : '0') + hash.slice(1);
  const description = swDescription({
    version: options.version,
    revision,
    payloadName,
    installPath: options.installPath,
    sha256: hash,
  });
  await writeFile(join(stage, 'sw-description'), description);
  await writeFile(join(stage, payloadName), options.payload);
  const { certPath, keyPath } = options.signing;
  const cms = ['cms', '-sign', '-in', 'sw-description', '-out', 'sw-description.sig'];
  cms.push('-signer', certPath, '-inkey', keyPath, '-outform', 'DER', '-nosmimecap', '-binary');
  await run('openssl', cms, stage);
  const path = join(stage, `camfleet-${options.version.replace(/[^\w.-]/g, '_')}.swu`);
  await run(
    'cpio',
    ['-o', '-H', 'crc', '--quiet', '-O', path],
    stage,
    `sw-description\nsw-description.sig\n${payloadName}\n`,
  );
  const image = await readFile(path);
  return { path, sha256: sha256(image), size: image.length, description };
}

export interface SwupdateExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SwupdateAgentOptions {
  /** The DDI server's base URL, e.g. http://127.0.0.1:8080 (no spaces: swupdate splits -u on them). */
  serverUrl: string;
  tenant: string;
  controllerId: string;
  targetToken: string;
  certPath: string;
  /** This agent's own TMPDIR (created if missing). */
  workDir: string;
  /** `-p`: seconds between polls (the server's config.polling.sleep overrides it). Default 1. */
  pollSeconds?: number;
  /** `-c 2`: confirm a pending update as successful (the start after the "reboot"). */
  confirmSuccess?: boolean;
  /** `-H board:revision`. Default 'camfleet:1.0'. */
  hardware?: string;
}

const live = new Set<SwupdateAgent>();
let exitHookInstalled = false;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Pids of the processes in a process group that are still running (zombies not counted). Linux /proc. */
export async function liveProcessGroup(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') pids.push(Number(entry));
  }
  return pids;
}

/**
 * One `swupdate` process (suricatta agent, or a one-off `-i` run) in its own process group, its
 * stdout and stderr captured together.
 */
export class SwupdateAgent {
  private readonly chunks: string[] = [];
  private readonly exitPromise: Promise<SwupdateExit>;
  /** Set once the process has exited and its output is complete. */
  exited: SwupdateExit | null = null;

  private constructor(
    readonly child: ChildProcess,
    readonly args: readonly string[],
  ) {
    const capture = (chunk: Buffer) => this.chunks.push(chunk.toString());
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    // Whatever it forked (suricatta, chunks_downloader, ...) goes with it.
    child.once('exit', () => killGroup(child.pid, 'SIGKILL'));
    // 'close' comes after the last output (its children share the pipes), 'exit' may not.
    this.exitPromise = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exited = { code, signal };
        live.delete(this);
        resolve(this.exited);
      });
    });
  }

  /** Starts `swupdate` with these arguments, TMPDIR=workDir; resolves once it is running. */
  static async spawn(args: string[], workDir: string): Promise<SwupdateAgent> {
    await mkdir(workDir, { recursive: true });
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const agent of live) killGroup(agent.child.pid, 'SIGKILL');
      });
    }
    const child = spawn('swupdate', args, {
      cwd: workDir,
      env: { ...process.env, TMPDIR: workDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const agent = new SwupdateAgent(child, args);
    live.add(agent);
    return agent;
  }

  /** swupdate in suricatta (hawkBit DDI) mode. */
  static start(options: SwupdateAgentOptions): Promise<SwupdateAgent> {
    const words = [options.tenant, options.serverUrl, options.controllerId, options.targetToken];
    if (words.some((word) => word === '' || /\s/.test(word))) {
      throw new Error('tenant, serverUrl, controllerId and targetToken must be non-empty and without spaces');
    }
    const suricatta = ['-t', options.tenant, '-u', options.serverUrl, '-i', options.controllerId];
    suricatta.push('-k', options.targetToken, '-p', String(options.pollSeconds ?? 1));
    if (options.confirmSuccess) suricatta.push('-c', '2');
    const args = ['-H', options.hardware ?? SWUPDATE_HARDWARE, '-k', options.certPath, '-v'];
    return SwupdateAgent.spawn([...args, '-u', suricatta.join(' ')], options.workDir);
  }

  /** Everything it wrote to stdout and stderr so far. */
  log(): string {
    return this.chunks.join('');
  }

  /** Waits until the captured output matches; fails at once if the process ends first. */
  async waitForLog(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.log().match(pattern);
      if (match) return match;
      if (this.exited || Date.now() > deadline) {
        const why = this.exited
          ? `swupdate ended (${JSON.stringify(this.exited)})`
          : `timed out after ${timeoutMs}ms`;
        const tail = this.log().split('\n').slice(-30).join('\n');
        throw new Error(`${why} waiting for ${pattern}\n--- swupdate log tail ---\n${tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Waits for it to exit on its own; kills it and throws after timeoutMs. */
  async waitForExit(timeoutMs = 60_000): Promise<SwupdateExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const result = await Promise.race([this.exitPromise, timeout]);
    clearTimeout(timer);
    if (result) return result;
    await this.stop('SIGKILL');
    throw new Error(`swupdate ${this.args.join(' ')} still running after ${timeoutMs}ms\n${this.log()}`);
  }

  /**
   * Signals its process group and waits for the exit (SIGKILL after killAfterMs), then until
   * nothing of the group is left running.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000): Promise<SwupdateExit> {
    if (!this.exited) killGroup(this.child.pid, signal);
    const timer = setTimeout(() => killGroup(this.child.pid, 'SIGKILL'), killAfterMs);
    try {
      const exit = await this.exitPromise;
      const pgid = this.child.pid!;
      await waitFor(async () => (await liveProcessGroup(pgid)).length === 0, {
        timeoutMs: killAfterMs,
        what: `swupdate process group ${pgid} to end`,
      });
      return exit;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface RunSwuOptions {
  image: string;
  certPath: string;
  /** TMPDIR for this run (created if missing). */
  workDir: string;
  hardware?: string;
  /** `-c`: only check the image (signature, hardware, hashes), install nothing. */
  check?: boolean;
  timeoutMs?: number;
}

export interface SwuRun {
  /** The process's exit code: NOT reliable on its own, see runSwu. */
  code: number | null;
  /** What the log says: the installer's "SWUPDATE successful !" and no [ERROR] line. */
  ok: boolean;
  log: string;
  /** Runs it took (a run that hit swupdate's premature-end race is repeated). */
  attempts: number;
}

/**
 * swupdate's `-i` front end sometimes reports the end of the update before the installer reached
 * a verdict ("[endupdate] ... successful" ahead of "SWUPDATE successful !" / "SWUPDATE failed"),
 * exits, and so cuts the install short (or deletes its temporary sw-description.sig under it:
 * "cannot be opened"). Such a run says nothing about the image, so runSwu repeats it.
 */
function endedBeforeVerdict(log: string): boolean {
  const end = log.indexOf('[endupdate]');
  const verdict = log.search(/SWUPDATE (successful !|failed)/);
  return end !== -1 && (verdict === -1 || end < verdict);
}

/**
 * `swupdate -i image -k cert -H hw -v [-c]` to completion. Judge it by `ok`, not `code`: this
 * build exits 1 after a fully successful run about once in 10 to 30 (same log, with and without
 * `-c`), and a run that hit the race above is repeated (up to 3 runs, each its own TMPDIR).
 */
export async function runSwu(options: RunSwuOptions): Promise<SwuRun> {
  const args = ['-i', options.image, '-k', options.certPath, '-H', options.hardware ?? SWUPDATE_HARDWARE];
  args.push('-v');
  if (options.check) args.push('-c');
  for (let attempt = 1; ; attempt++) {
    const workDir = attempt === 1 ? options.workDir : join(options.workDir, `retry-${attempt}`);
    const agent = await SwupdateAgent.spawn(args, workDir);
    const { code } = await agent.waitForExit(options.timeoutMs ?? 60_000);
    await agent.stop();
    const log = agent.log();
    if (endedBeforeVerdict(log) && attempt < 3) continue;
    const ok =
      /SWUPDATE successful !/.test(log) && /SWUpdate was successful/.test(log) && !/\[ERROR\]/.test(log);
    return { code, ok, log, attempts: attempt };
  }
}
