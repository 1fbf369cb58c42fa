/**
 * A big artifact end to end, measured: `pnpm big-artifact [--size 2g] [--store s3|filesystem]
 * [--pods 2] [--devices 4] [--presign]`.
 *
 * Starts its own Redis, s3rver (or a temp dir), pod processes; writes a file of --size (streamed,
 * incompressible); publishes it signed with the real CLI (progress bar when stderr is a terminal);
 * rolls it out to simulated cameras that require the signature and cut their own downloads at
 * random offsets (--drop-download-rate 1, so every download resumes); waits for success and prints
 * a JSON summary (sizes in bytes, peak RSS from VmHWM). Everything it started is stopped and
 * removed at the end, also on failure or Ctrl-C.
 *
 * With s3, downloads go through the pods (FLEET_ARTIFACT_PRESIGN=0) unless --presign is given
 * (then the cameras read s3rver directly and the pods serve ~0 bytes).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createAdminClient } from '@camfleet/client';
import {
  PodProcess,
  ROOT,
  runFleet,
  startSim,
  startTestRedis,
  startTestS3,
  TEST_TOKENS,
  type TestRedis,
  type TestS3,
  waitFor,
} from '@camfleet/test-support';

const MiB = 1024 * 1024;

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (!match) throw new Error(`--size: expected e.g. 64m, 2g or a byte count, got ${text}`);
  const unit = { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '2g' },
    store: { type: 'string', default: 's3' },
    pods: { type: 'string', default: '2' },
    devices: { type: 'string', default: '4' },
    presign: { type: 'boolean', default: false },
  },
});
const size = parseSize(values.size);
const store = values.store;
if (store !== 's3' && store !== 'filesystem') throw new Error('--store: s3 or filesystem');
const podCount = Number(values.pods);
const devices = Number(values.devices);

/** Peak resident memory of a process so far (VmHWM), in bytes. */
async function peakRss(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const mib = (n: number) => Math.round((n / MiB) * 10) / 10;

/** Incompressible bytes to `path`, 1 MiB at a time: never more than a few MiB in memory. */
async function writeFile(path: string, bytes: number): Promise<void> {
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let left = bytes; left > 0; left -= MiB) yield randomBytes(Math.min(MiB, left));
  }
  await pipeline(Readable.from(pieces()), createWriteStream(path));
}

/** The CLI, as an operator runs it: stderr on this terminal (the progress bar), stdout captured. */
function fleetWithBar(url: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/cli/src/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, FLEET_URL: url, FLEET_TOKEN: TEST_TOKENS.admin },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout })));
}

async function fleetJson<T>(url: string, args: string[]): Promise<T> {
  const result = await runFleet(url, [...args, '--json']);
  if (result.code !== 0) throw new Error(`fleet ${args.join(' ')}: exit ${result.code}\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

async function bytesServed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^camfleet_artifact_bytes_served_total(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

const log = (message: string) => process.stderr.write(`[big-artifact] ${message}\n`);

const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | null = null;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => log(`cleanup: ${error}`));
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function main(): Promise<Record<string, unknown>> {
  const work = await mkdtemp(join(tmpdir(), 'camfleet-big-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  // The file, the stored copy, and (s3) s3rver's parts and temporary object before the copy.
  const fs = await statfs(work);
  const free = fs.bavail * fs.bsize;
  const needed = size * (store === 's3' ? 4 : 2) + 1024 * MiB;
  if (free < needed) throw new Error(`${mib(free)} MiB free in ${tmpdir()}, ${mib(needed)} MiB needed`);

  const redis: TestRedis = await startTestRedis({ mode: 'single', appendOnly: false });
  cleanups.push(() => redis.destroy());
  let storeEnv: Record<string, string>;
  if (store === 's3') {
    const s3: TestS3 = await startTestS3();
    cleanups.push(() => s3.destroy());
    storeEnv = { ...s3.env(), FLEET_ARTIFACT_PRESIGN: values.presign ? '1' : '0' };
  } else {
    storeEnv = { FLEET_ARTIFACT_STORE: 'filesystem', FLEET_ARTIFACT_DIR: join(work, 'store') };
  }
  const pods: PodProcess[] = [];
  cleanups.push(() => Promise.all(pods.map((pod) => pod.kill('SIGKILL'))));
  for (let i = 1; i <= podCount; i++) {
    pods.push(
      await PodProcess.start(redis.url, `pod${i}`, {
        ...storeEnv,
        FLEET_ARTIFACT_MAX_BYTES: String(Math.max(size, MiB)),
        FLEET_LEASE_MS: '10000',
      }),
    );
  }
  const url = pods[0]?.url ?? '';
  const podPeaks = () => Promise.all(pods.map((pod) => peakRss(pod.child.pid)));
  const admin = createAdminClient(url, TEST_TOKENS.admin);
  cleanups.push(async () => admin.close());

  const file = join(work, 'firmware.bin');
  log(`writing ${mib(size)} MiB to ${file}`);
  await writeFile(file, size);
  const keys = await fleetJson<{ privateKey: string; publicKey: string }>(url, [
    'keys',
    'generate',
    '--out',
    work,
    '--name',
    'release',
  ]);

  const beforePublish = await podPeaks();
  log(`publishing (${store}) through ${url}`);
  let started = Date.now();
  const published = await fleetWithBar(url, [
    'patch',
    'publish',
    file,
    '--name',
    'big-fw',
    '--version',
    '1.0.0',
    '--sign-key',
    keys.privateKey,
    '--json',
  ]);
  if (published.code !== 0) throw new Error(`fleet patch publish: exit ${published.code}`);
  const publishSeconds = (Date.now() - started) / 1000;
  const patch = JSON.parse(published.stdout) as { id: string; artifact: { sha256: string; size: number } };
  if (patch.artifact.size !== size) throw new Error(`published ${patch.artifact.size} bytes, not ${size}`);
  const afterPublish = await podPeaks();
  // The cameras do not need the file: only what the pods stored.
  await rm(file, { force: true });

  const summaryFile = join(work, 'sim-summary.json');
  const sim = startSim([
    '--url',
    pods.map((pod) => pod.url).join(','),
    '--summary',
    summaryFile,
    '--credentials',
    join(work, 'credentials.json'),
    '--quiet',
    '--devices',
    String(devices),
    '--apply-ms',
    '10',
    '--reboot-ms',
    '10',
    '--drop-download-rate',
    '1',
    '--trusted-keys',
    keys.publicKey,
    '--require-signature',
  ]);
  cleanups.push(async () => {
    if (sim.child.exitCode === null && sim.child.signalCode === null) sim.child.kill('SIGKILL');
    await sim.done;
  });
  await waitFor(async () => (await admin.client.fleet.stats.query()).online >= devices, {
    timeoutMs: 60_000,
    what: `${devices} cameras online`,
  });

  log(`rolling out to ${devices} cameras`);
  started = Date.now();
  const rollout = await fleetJson<{ id: string }>(url, [
    'rollout',
    'create',
    '--patch',
    patch.id,
    '--all',
    '--ack-timeout',
    '10m',
  ]);
  const final = await waitFor(
    async () => {
      const status = await admin.client.rollout.get.query({ rolloutId: rollout.id });
      return status.status === 'completed' ? status : null;
    },
    { timeoutMs: 60 * 60_000, intervalMs: 500, what: 'the rollout to complete' },
  );
  const downloadSeconds = (Date.now() - started) / 1000;
  const afterDownloads = await podPeaks();
  const simPeak = await peakRss(sim.child.pid);
  const served = (await Promise.all(pods.map((pod) => bytesServed(pod.url)))).reduce((a, b) => a + b, 0);

  sim.child.kill('SIGTERM');
  const simResult = await sim.done;
  if (simResult.code !== 0) throw new Error(`simulator exit ${simResult.code}\n${simResult.stderr}`);
  const simSummary = JSON.parse(await readFile(summaryFile, 'utf8')) as Record<string, number>;

  const succeeded = final.counts.succeeded ?? 0;
  return {
    ok: succeeded === devices && simSummary.checksumFailures === 0,
    store,
    presigned: store === 's3' && values.presign,
    sizeBytes: size,
    sizeMiB: mib(size),
    pods: podCount,
    cameras: devices,
    succeeded,
    publishSeconds,
    publishMiBps: Math.round(mib(size) / publishSeconds),
    downloadSeconds,
    downloadMiBpsAggregate: Math.round((mib(size) * devices) / downloadSeconds),
    podPeakRssMiB: {
      beforePublish: beforePublish.map(mib),
      afterPublish: afterPublish.map(mib),
      afterDownloads: afterDownloads.map(mib),
    },
    simPeakRssMiB: mib(simPeak),
    podBytesServed: served,
    downloadBytes: simSummary.downloadBytes,
    downloadResumes: simSummary.downloadResumes,
    checksumFailures: simSummary.checksumFailures,
    signatureRefusals: simSummary.signatureRefusals,
  };
}

try {
  const summary = await main();
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.exitCode = summary.ok === true ? 0 : 1;
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
} finally {
  await cleanUp();
}
