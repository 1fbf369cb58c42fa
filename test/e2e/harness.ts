import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminClient } from '@camfleet/client';
import type { RolloutStatus } from '@camfleet/contracts';
import {
  connectTestRedis,
  PodProcess,
  type ProcessResult,
  runFleet,
  startSim,
  startTestRedis,
  TEST_TOKENS,
  type TestRedis,
  waitFor,
} from '@camfleet/test-support';
import { expect } from 'vitest';
import { KeySpace } from '../../apps/server/src/redis/keys.js';

/** The simulator's --summary document (the fields these tests read). */
export interface SimSummary {
  devices: number;
  connected: number;
  offersReceived: number;
  duplicateOffers: number;
  installsDone: number;
  installsFailed: number;
  installsRepeated: number;
  reportsRejected: number;
  cancelsAccepted: number;
  cancelsRefused: number;
}

/** `fleet keys generate --json`. */
export interface SigningKeys {
  keyId: string;
  privateKey: string;
  publicKey: string;
}

/** `fleet patch publish --json` (the fields these tests read). */
export interface PublishedPatch {
  id: string;
  artifact: { sha256: string; size: number };
  signature: { keyId: string } | null;
}

/** Redis + N pod processes + an admin client, torn down together. */
export class TestFleet {
  private sims: Array<ReturnType<typeof startSim>> = [];
  private readonly clients = new Map<string, ReturnType<typeof createAdminClient>>();
  private constructor(
    readonly redis: TestRedis,
    readonly pods: PodProcess[],
    private readonly dir: string,
  ) {}

  /** A private directory for this fleet's files (credentials, keys, artifacts). */
  get workDir(): string {
    return this.dir;
  }

  /** `redis`: a Redis the test started (a failover test's cluster); otherwise the suite's kind. */
  static async up(
    podCount: number,
    options: { appendOnly?: boolean; redis?: TestRedis; podEnv?: Record<string, string> } = {},
  ): Promise<TestFleet> {
    const redis = options.redis ?? (await startTestRedis({ appendOnly: options.appendOnly ?? false }));
    const pods = await Promise.all(
      Array.from({ length: podCount }, (_, i) => PodProcess.start(redis.url, `pod${i + 1}`, options.podEnv)),
    );
    return new TestFleet(redis, pods, await mkdtemp(join(tmpdir(), 'camfleet-e2e-')));
  }

  /** The first pod still running: tests kill pods, operators then talk to another one. */
  private livePod(): PodProcess {
    const pod = this.pods.find((p) => p.child.exitCode === null && p.child.signalCode === null);
    if (!pod) throw new Error('no pod is running');
    return pod;
  }

  /** An admin client on a live pod. */
  get admin(): ReturnType<typeof createAdminClient> {
    const url = this.livePod().url;
    let client = this.clients.get(url);
    if (!client) {
      client = createAdminClient(url, TEST_TOKENS.admin);
      this.clients.set(url, client);
    }
    return client;
  }

  get urls(): string {
    return this.pods.map((p) => p.url).join(',');
  }

  /** Runs `fleet` against the first live pod. */
  fleet(args: string[]): Promise<ProcessResult> {
    return runFleet(this.livePod().url, args);
  }

  async fleetJson<T>(args: string[]): Promise<T> {
    const result = await this.fleet([...args, '--json']);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  }

  /**
   * Starts simulated cameras. `finish()` stops them (SIGTERM: they disconnect and write their
   * summary) and returns the summary; tests stop them when the rollout settled, never on a timer.
   */
  sim(args: string[]): { finish: () => Promise<SimSummary> } {
    const file = join(tmpdir(), `camfleet-sim-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    // Cameras keep their enrolled secrets, one file per id prefix, so a camera can come back later.
    const prefix = args[args.indexOf('--prefix') + 1] ?? 'cam';
    const credentials = join(this.dir, `credentials-${args.includes('--prefix') ? prefix : 'cam'}.json`);
    const sim = startSim([
      '--url',
      this.urls,
      '--summary',
      file,
      '--credentials',
      credentials,
      '--quiet',
      ...args,
    ]);
    this.sims.push(sim);
    return {
      finish: async () => {
        sim.child.kill('SIGTERM');
        const result = await sim.done;
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(await readFile(file, 'utf8')) as SimSummary;
      },
    };
  }

  /**
   * Simulator flags that hold every install after its `installing` report, and the call that lets
   * them all go: a fault injected before `release()` lands mid-install by construction.
   */
  installHold(): { args: string[]; release: () => Promise<void> } {
    const file = join(this.dir, `release-${Math.random().toString(36).slice(2)}`);
    return { args: ['--hold-installs', file], release: () => writeFile(file, '') };
  }

  async waitOnline(count: number, timeoutMs = 90_000): Promise<void> {
    await waitFor(async () => (await this.admin.client.fleet.stats.query()).online >= count, {
      timeoutMs,
      what: `${count} devices online`,
    });
  }

  /** A publisher's key pair, made by `fleet keys generate` in this fleet's directory. */
  signingKeys(): Promise<SigningKeys> {
    return this.fleetJson<SigningKeys>(['keys', 'generate', '--out', this.dir, '--name', 'release']);
  }

  /** `fleet patch publish FILE --name NAME --version VERSION [--sign-key KEY]`: the patch as printed. */
  publishFile(file: string, name: string, version: string, signKey?: string): Promise<PublishedPatch> {
    return this.fleetJson<PublishedPatch>([
      'patch',
      'publish',
      file,
      '--name',
      name,
      '--version',
      version,
      ...(signKey ? ['--sign-key', signKey] : []),
    ]);
  }

  /** Publishes a patch and rolls it out (to all devices unless `extra` names a target) through the CLI. */
  /** Publishes a fresh patch and rolls it out (to all, unless `extra` names a target). */
  async rollOut(extra: string[] = []): Promise<string> {
    const patch = await this.fleetJson<{ id: string }>([
      'patch',
      'publish',
      'fw',
      '--version',
      `2.${Date.now()}.${Math.random().toString(36).slice(2, 6)}`,
    ]);
    return this.rollOutPatch(patch.id, extra);
  }

  /** `fleet rollout create --patch <id>` (to all, unless `extra` names a target); the rollout id. */
  async rollOutPatch(patchId: string, extra: string[] = []): Promise<string> {
    const target = extra.some((a) => a === '--selector' || a === '--devices') ? [] : ['--all'];
    const rollout = await this.fleetJson<{ id: string }>([
      'rollout',
      'create',
      '--patch',
      patchId,
      ...target,
      ...extra,
    ]);
    return rollout.id;
  }

  status(rolloutId: string): Promise<RolloutStatus> {
    return this.admin.client.rollout.get.query({ rolloutId });
  }

  /**
   * The rollout completed. `targeted`: with that many devices (a rollout is completed for a moment
   * whenever every device it has so far is done, before late devices join it).
   */
  async waitSettled(
    rolloutId: string,
    { timeoutMs = 150_000, targeted }: { timeoutMs?: number; targeted?: number } = {},
  ): Promise<RolloutStatus> {
    return waitFor(
      async () => {
        const status = await this.status(rolloutId);
        const complete =
          status.status === 'completed' && (targeted === undefined || status.targeted === targeted);
        return complete ? status : null;
      },
      {
        timeoutMs,
        what: `rollout ${rolloutId} to settle${targeted === undefined ? '' : ` with ${targeted} devices`}`,
      },
    );
  }

  /**
   * The device's attempt in flight times out now: its deadline is set in the past and the device is
   * due, so the pods' own sweeper acts on it (only the time moves).
   */
  passDeadline(rolloutId: string, deviceId: string): Promise<void> {
    return this.dueNow(rolloutId, deviceId, 'deadline');
  }

  /** The device's retry backoff is over now: its next attempt is due (only the time moves). */
  passRetryBackoff(rolloutId: string, deviceId: string): Promise<void> {
    return this.dueNow(rolloutId, deviceId, 'retryAt');
  }

  /** Puts one of a delivery's times in the past and makes its device due for the sweeper. */
  private async dueNow(rolloutId: string, deviceId: string, field: 'deadline' | 'retryAt'): Promise<void> {
    const keys = new KeySpace('cf');
    const redis = connectTestRedis(this.redis.url);
    try {
      await redis.hset(keys.delivery(rolloutId, deviceId), field, 1);
      await redis.zadd(keys.bucketOfDevice(deviceId).due, 1, deviceId);
    } finally {
      redis.disconnect();
    }
  }

  /** Pod instances holding a presence lease in Redis right now. */
  async redisLeases(): Promise<string[]> {
    const redis = connectTestRedis(this.redis.url);
    try {
      return await redis.zrange('cf:{g}:nodes', 0, '-1');
    } finally {
      redis.disconnect();
    }
  }

  async down(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    for (const sim of this.sims) sim.child.kill('SIGKILL');
    await Promise.all(this.pods.map((p) => p.kill('SIGKILL')));
    await this.redis.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Every delivery state count, summed, equals the number of devices targeted. */
export function expectCountsAddUp(status: RolloutStatus): void {
  const sum = Object.values(status.counts).reduce((a, b) => a + b, 0);
  expect(sum).toBe(status.targeted);
}
