// Over 400 lines: one real Redis and pod, started once (the slow part), serve every case.
/**
 * The CLI against a real pod: a private Redis, one server process, `runFleet` in-process
 * with the real tRPC client (HTTP for calls, WebSocket for `rollout watch`).
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeviceClient, enrollDevice, type FleetClient, type WSClient } from '@camfleet/client';
import type {
  AuditEntry,
  EnrollTokenInfo,
  FleetEvent,
  IssuedEnrollToken,
  IssuedToken,
  RolloutStatus,
  TargetPreview,
  TokenInfo,
} from '@camfleet/contracts';
import { freePort, PodProcess, startTestRedis, type TestRedis, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleet } from './program.js';
import { captured, hasAnsi } from './test-helpers.js';

const ADMIN_TOKEN = 'cli-admin-token-0123';
const ENROLL_TOKEN = 'cli-enroll-token-0123';

let redis: TestRedis;
let server: PodProcess | undefined;
let url = '';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function fleet(argv: string[], env: Record<string, string> = {}): Promise<Result> {
  const stdout = captured(false);
  const stderr = captured(false);
  const code = await runFleet(argv, {
    stdout,
    stderr,
    env: { FLEET_URL: url, FLEET_TOKEN: ADMIN_TOKEN, ...env },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

async function fleetJson<T>(argv: string[]): Promise<T> {
  const result = await fleet([...argv, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

beforeAll(async () => {
  redis = await startTestRedis();
  server = await PodProcess.start(
    redis.url,
    'cli-test',
    { FLEET_KEY_PREFIX: 'clitest' },
    { admin: ADMIN_TOKEN, enroll: ENROLL_TOKEN },
  );
  url = server.url;
});

afterAll(async () => {
  await server?.kill('SIGTERM');
  await redis?.destroy();
});

describe('fleet against a real server', () => {
  let patchId = '';
  let rolloutId = '';

  it('publishes a patch and prints its id', async () => {
    const result = await fleet([
      'patch',
      'publish',
      'cam-firmware',
      '--version',
      '2.0.0',
      '--notes',
      'integration',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^pat_[a-z0-9]+\n$/);
    patchId = result.stdout.trim();

    const shown = await fleetJson<{ id: string; name: string; version: string; notes: string }>([
      'patch',
      'show',
      patchId,
    ]);
    expect(shown).toMatchObject({
      id: patchId,
      name: 'cam-firmware',
      version: '2.0.0',
      notes: 'integration',
    });
  });

  it('creates a rollout to all devices and prints its id', async () => {
    const result = await fleet(['rollout', 'create', '--patch', patchId, '--all', '--ack-timeout', '30s']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ro_[a-z0-9]+\n$/);
    rolloutId = result.stdout.trim();
  });

  it('--dry-run prints the plan and the preview, and creates nothing', async () => {
    const before = await fleetJson<RolloutStatus[]>(['rollout', 'list']);
    const args = ['rollout', 'create', '--patch', patchId, '--devices', 'cam-1,cam-2', '--waves', '50,100'];
    const human = await fleet([...args, '--max-in-flight', '2', '--dry-run']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        '0 devices in 2 waves (50%: ~0, 100%: ~0), at most 2 at a time',
        'no such device: cam-1, cam-2 (2)',
        'dry run: nothing created',
      ]),
    );
    const json = await fleetJson<{ dryRun: true; preview: TargetPreview; plan: string[] }>([
      ...args,
      '--dry-run',
    ]);
    expect(json.preview).toMatchObject({ matched: 0, unknown: { count: 2, ids: ['cam-1', 'cam-2'] } });
    expect(json.plan[0]).toBe('0 devices in 2 waves (50%: ~0, 100%: ~0)');
    expect(await fleetJson<RolloutStatus[]>(['rollout', 'list'])).toEqual(before);
  });

  it('reports rollout status as one JSON document: nothing targeted without devices', async () => {
    const status = await fleetJson<RolloutStatus>(['rollout', 'status', rolloutId]);
    expect(status).toMatchObject({ id: rolloutId, patchId, targeted: 0, ackTimeoutMs: 30_000 });
    expect(['active', 'completed']).toContain(status.status);
    expect(status.counts).toEqual({
      queued: 0,
      offered: 0,
      downloading: 0,
      installing: 0,
      verifying: 0,
      succeeded: 0,
      failed: 0,
      canceled: 0,
    });
    const human = await fleet(['rollout', 'status', rolloutId]);
    expect(human.code).toBe(0);
    expect(hasAnsi(human.stdout)).toBe(false);
    expect(human.stdout).toMatch(new RegExp(`Rollout\\s+${rolloutId}`));
  });

  it('lists the events of a rollout, starting with its creation', async () => {
    const events = await fleetJson<FleetEvent[]>(['events', '--rollout', rolloutId]);
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'rollout', type: 'created', rolloutId, actor: expect.any(String) }),
    );
    expect(events.every((event) => event.rolloutId === rolloutId)).toBe(true);
    const human = await fleet(['events', '--rollout', rolloutId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^TIME\s+ROLLOUT\s+DEVICE\s+EVENT\s+ATTEMPT\s+DETAIL\n/);
    expect(human.stdout).toMatch(new RegExp(`${rolloutId}\\s+-\\s+created\\s+-\\s+by \\S+`));
  });

  it('lists no devices', async () => {
    const page = await fleetJson<{ devices: unknown[]; nextCursor: string | null }>(['devices', 'list']);
    expect(page).toEqual({ devices: [], nextCursor: null });
  });

  it('lists patches and rollouts, and shows stats', async () => {
    const patches = await fleetJson<Array<{ id: string }>>(['patch', 'list']);
    expect(patches.map((p) => p.id)).toContain(patchId);
    const rollouts = await fleetJson<Array<{ id: string }>>(['rollout', 'list']);
    expect(rollouts.map((r) => r.id)).toContain(rolloutId);
    const stats = await fleetJson<{ patches: number; rollouts: number; devices: number }>(['stats']);
    expect(stats).toMatchObject({ devices: 0 });
    expect(stats.patches).toBeGreaterThanOrEqual(1);
  });

  it('exits 4 for something that does not exist', async () => {
    for (const argv of [
      ['rollout', 'status', 'ro_doesnotexist'],
      ['patch', 'show', 'pat_doesnotexist'],
      ['device', 'show', 'cam-nobody'],
    ]) {
      const result = await fleet([...argv, '--json']);
      expect(result.code, argv.join(' ')).toBe(4);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: not found: .+\n$/);
    }
  });

  it('exits 5 with a wrong token, for calls and for watch', async () => {
    const result = await fleet(['stats'], { FLEET_TOKEN: 'not-the-token' });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: access denied/);
    const watch = await fleet(['rollout', 'watch', rolloutId, '--timeout', '5s'], { FLEET_TOKEN: 'nope' });
    expect(watch.code).toBe(5);
  });

  it('exits 7 when nothing listens at the URL', async () => {
    const port = await freePort();
    const result = await fleet(['stats'], { FLEET_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(/cannot reach the fleet server/);
  });

  it('watch times out (exit 3) while nothing is targeted', async () => {
    const result = await fleet(['rollout', 'watch', rolloutId, '--timeout', '1500ms', '--json']);
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: rolloutId, targeted: 0 });
  });

  it('cancels a rollout', async () => {
    const canceled = await fleetJson<RolloutStatus>(['rollout', 'cancel', rolloutId]);
    expect(canceled.status).toBe('canceled');
  });
});

describe('rollout control against a real server', () => {
  it('creates a rollout to a selector in waves, then pauses, resumes, advances and cancels it', async () => {
    const published = await fleet(['patch', 'publish', 'cam-firmware', '--version', '3.0.0']);
    const patchId = published.stdout.trim();
    const created = await fleet([
      'rollout',
      'create',
      '--patch',
      patchId,
      '--selector',
      'site=nowhere, tier in (canary,prod)',
      '--waves',
      '10,100',
      '--advance',
      'manual',
      '--success-threshold',
      '95%',
      '--failure-threshold',
      '10%',
      '--min-sample',
      '5',
      '--on-failure',
      'abort',
      '--max-in-flight',
      '20',
      '--snapshot',
    ]);
    expect(created.stderr).not.toMatch(/^error/);
    expect(created.code).toBe(0);
    const rolloutId = created.stdout.trim();

    const status = await fleetJson<RolloutStatus>(['rollout', 'status', rolloutId]);
    expect(status).toMatchObject({
      id: rolloutId,
      target: { kind: 'selector', selector: 'site=nowhere, tier in (canary,prod)' },
      waves: [10, 100],
      advance: 'manual',
      successThreshold: 0.95,
      failureThreshold: 0.1,
      minSample: 5,
      onFailure: 'abort',
      maxInFlight: 20,
      snapshot: true,
      supersede: false,
      wave: 0,
      targeted: 0,
    });

    const paused = await fleetJson<RolloutStatus>(['rollout', 'pause', rolloutId, '--reason', 'integration']);
    expect(paused).toMatchObject({ status: 'paused', reason: 'integration' });
    const human = await fleet(['rollout', 'status', rolloutId]);
    expect(human.stdout).toMatch(/Status\s+paused/);
    expect(human.stdout).toMatch(/Gate\s+paused: integration/);

    const resumed = await fleetJson<RolloutStatus>(['rollout', 'resume', rolloutId]);
    expect(resumed.status).toBe('active');
    const advanced = await fleetJson<RolloutStatus>(['rollout', 'advance', rolloutId]);
    expect(advanced.wave).toBe(1);

    const canceled = await fleetJson<RolloutStatus>(['rollout', 'cancel', rolloutId, '--reason', 'done']);
    expect(canceled).toMatchObject({ status: 'canceled', reason: 'done' });
    const list = await fleet(['rollout', 'list']);
    expect(list.stdout).toMatch(
      new RegExp(`${rolloutId}\\s+${patchId} \\(cam-firmware 3\\.0\\.0\\)\\s+canceled\\s+2/2`),
    );
  });

  it('refuses a bad selector before asking the server (exit 2)', async () => {
    const result = await fleet(['rollout', 'create', '--patch', 'pat_abc', '--selector', 'site in (a']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: invalid --selector \'site in (a\': unbalanced "("\n');
  });
});

describe('fleet rollout watch with a device', () => {
  let device: { client: FleetClient; wsClient: WSClient } | null = null;

  afterAll(() => {
    device?.wsClient.close();
  });

  it('follows a rollout over the WebSocket until the device succeeds (exit 0)', async () => {
    const deviceId = 'cli-cam-1';
    const secret = await enrollDevice(url, deviceId, ENROLL_TOKEN);
    device = createDeviceClient({ baseUrl: url, deviceId, credentials: { secret } });
    const { client } = device;
    await client.device.register.mutate({ model: 'cam-x1', firmwareVersion: '1.0.0' });
    client.device.offers.subscribe(
      { lastEventId: null },
      {
        onData: (envelope) => {
          const event = envelope.data;
          if (event.type !== 'offer') return;
          const { offer } = event;
          void (async () => {
            for (const status of ['downloading', 'installing'] as const) {
              await client.device.report.mutate({
                deliveryId: offer.deliveryId,
                attempt: offer.attempt,
                status,
              });
            }
            // Applied without a restart: succeeded, naming the version the device runs now.
            await client.device.report.mutate({
              deliveryId: offer.deliveryId,
              attempt: offer.attempt,
              status: 'succeeded',
              firmwareVersion: offer.patch.version,
            });
          })();
        },
      },
    );

    const published = await fleet(['patch', 'publish', 'cam-firmware', '--version', '2.0.1']);
    const patchId = published.stdout.trim();
    const created = await fleet(['rollout', 'create', '--patch', patchId, '--all']);
    expect(created.code).toBe(0);
    const rolloutId = created.stdout.trim();

    const watched = await fleet(['rollout', 'watch', rolloutId, '--timeout', '30s', '--interval', '100ms']);
    expect(watched.stderr).toBe('');
    expect(watched.code).toBe(0);
    const lines = watched.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`${rolloutId} completed: 1/1 finished, 1 succeeded`);

    const detail = await fleetJson<{
      device: { id: string };
      deliveries: Array<{ rolloutId: string; state: string }>;
    }>(['device', 'show', deviceId]);
    expect(detail.device.id).toBe(deviceId);
    expect(detail.deliveries).toContainEqual(expect.objectContaining({ rolloutId, state: 'succeeded' }));
    const human = await fleet(['device', 'show', deviceId]);
    expect(human.stdout).toMatch(/Deliveries\n/);
    expect(human.stdout).toMatch(new RegExp(`${rolloutId}\\s+${patchId}\\s+succeeded`));
  });
});

describe('fleet rollout watch when the failure threshold aborts the rollout', () => {
  const devices: WSClient[] = [];

  beforeAll(async () => {
    // Earlier rollouts to all devices are still live: new devices would join them first.
    for (const rollout of await fleetJson<RolloutStatus[]>(['rollout', 'list'])) {
      if (rollout.status === 'active' || rollout.status === 'completed') {
        expect((await fleet(['rollout', 'cancel', rollout.id, '--reason', 'cleanup'])).code).toBe(0);
      }
    }
  });

  afterAll(() => {
    for (const wsClient of devices) wsClient.close();
  });

  it('ends with exit 1, naming the reason', async () => {
    // cli-bad-1 fails every attempt; cli-bad-2 registers but never takes its offer.
    const bad = createDeviceClient({
      baseUrl: url,
      deviceId: 'cli-bad-1',
      credentials: { secret: await enrollDevice(url, 'cli-bad-1', ENROLL_TOKEN) },
    });
    const idle = createDeviceClient({
      baseUrl: url,
      deviceId: 'cli-bad-2',
      credentials: { secret: await enrollDevice(url, 'cli-bad-2', ENROLL_TOKEN) },
    });
    devices.push(bad.wsClient, idle.wsClient);
    await bad.client.device.register.mutate({ model: 'cam-x1', firmwareVersion: '1.0.0' });
    await idle.client.device.register.mutate({ model: 'cam-x1', firmwareVersion: '1.0.0' });
    bad.client.device.offers.subscribe(
      { lastEventId: null },
      {
        onData: (envelope) => {
          const event = envelope.data;
          if (event.type !== 'offer') return;
          void bad.client.device.report.mutate({
            deliveryId: event.offer.deliveryId,
            attempt: event.offer.attempt,
            status: 'failed',
            error: 'boot loop',
          });
        },
      },
    );

    const published = await fleet(['patch', 'publish', 'cam-firmware', '--version', '2.0.2']);
    const created = await fleet([
      'rollout',
      'create',
      '--patch',
      published.stdout.trim(),
      '--devices',
      'cli-bad-1,cli-bad-2',
      '--failure-threshold',
      '10%',
      '--min-sample',
      '1',
      '--on-failure',
      'abort',
      '--max-attempts',
      '1',
    ]);
    expect(created.code).toBe(0);
    const rolloutId = created.stdout.trim();

    const watched = await fleet(['rollout', 'watch', rolloutId, '--timeout', '30s', '--interval', '100ms']);
    expect(watched.code).toBe(1);
    expect(watched.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^${rolloutId} aborted: `));
    expect(watched.stderr).toMatch(
      new RegExp(
        `^error: rollout ${rolloutId} was aborted \\(by camfleet: failure threshold: 1 of 1 completed failed`,
      ),
    );
  });
});

describe('credentials, tokens and the audit log against a real server', () => {
  const sockets: WSClient[] = [];
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-cli-it-'));
  });

  afterAll(async () => {
    for (const wsClient of sockets) wsClient.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('provisions a device that connects with the printed secret, and revokes it', async () => {
    const deviceId = 'cli-prov-1';
    const file = join(dir, 'creds.json');
    const provisioned = await fleet([
      'device',
      'provision',
      deviceId,
      '--model',
      'cam-x1',
      '--labels',
      'site=lab,tier=canary',
      '--credentials',
      file,
    ]);
    expect(provisioned.code).toBe(0);
    const match = new RegExp(`^secret for ${deviceId}: (\\S+)\n$`).exec(provisioned.stdout);
    expect(match).not.toBeNull();
    const secret = match?.[1] ?? '';
    expect(provisioned.stderr).toMatch(/shown only once/);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ [deviceId]: secret });
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    // Provisioned ahead of time: listed with its model and labels before it ever connects.
    const before = await fleetJson<{ device: { model: string; labels: Record<string, string> } }>([
      'device',
      'show',
      deviceId,
    ]);
    expect(before.device).toMatchObject({ model: 'cam-x1', labels: { site: 'lab', tier: 'canary' } });

    // A second provision is refused: the device has a credential (rotate it instead).
    const again = await fleet(['device', 'provision', deviceId]);
    expect(again.code).toBe(6);
    expect(again.stdout).toBe('');

    let rejected: string | null = null;
    const device = createDeviceClient({
      baseUrl: url,
      deviceId,
      credentials: { secret },
      retryDelayMs: () => 100,
      onRejected: (message) => {
        rejected = message;
      },
    });
    sockets.push(device.wsClient);
    await device.client.device.register.mutate({ model: 'cam-x1', firmwareVersion: '1.0.0' });
    const online = await fleetJson<{ device: { online: boolean } }>(['device', 'show', deviceId]);
    expect(online.device.online).toBe(true);

    const revoked = await fleet(['device', 'revoke', deviceId]);
    expect(revoked).toEqual({ code: 0, stdout: `revoked the credentials of ${deviceId}\n`, stderr: '' });
    // Kicked off, and its secret refused when it tries to come back.
    await waitFor(() => rejected !== null, { what: 'the revoked device to be refused' });
    device.wsClient.close();
    const offline = await fleetJson<{ device: { online: boolean } }>(['device', 'show', deviceId]);
    expect(offline.device.online).toBe(false);
  });

  it('issues a viewer token that may read but not control rollouts (exit 5), and revokes it', async () => {
    const issued = await fleetJson<IssuedToken>(['token', 'create', '--role', 'viewer', '--expires', '30d']);
    expect(issued).toMatchObject({ role: 'viewer', name: expect.stringMatching(/^viewer-\d{8}$/) });
    expect(issued.expiresAt).toBe(issued.createdAt + 30 * 86_400_000);
    const viewer = { FLEET_TOKEN: issued.token };

    const listed = await fleet(['rollout', 'list', '--json'], viewer);
    expect(listed.code).toBe(0);
    const rollouts = JSON.parse(listed.stdout) as RolloutStatus[];
    expect(rollouts.length).toBeGreaterThan(0);
    const rolloutId = rollouts[0]?.id ?? '';

    const cancel = await fleet(['rollout', 'cancel', rolloutId, '--reason', 'not allowed'], viewer);
    expect(cancel.code).toBe(5);
    expect(cancel.stdout).toBe('');
    expect(cancel.stderr).toMatch(/^error: access denied: role operator required, token has viewer/);
    // Admin commands too.
    expect((await fleet(['token', 'list'], viewer)).code).toBe(5);

    const tokens = await fleetJson<TokenInfo[]>(['token', 'list']);
    expect(tokens).toContainEqual(
      expect.objectContaining({ id: issued.id, role: 'viewer', revokedAt: null }),
    );
    const table = await fleet(['token', 'list']);
    expect(table.stdout).toMatch(new RegExp(`${issued.id}\\s+${issued.name}\\s+viewer\\s+.*\\s+active\n`));

    const revoked = await fleet(['token', 'revoke', issued.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(`revoked token ${issued.id} (${issued.name}, viewer)\n`);
    expect((await fleet(['rollout', 'list'], viewer)).code).toBe(5);
    expect((await fleet(['token', 'list'])).stdout).toMatch(new RegExp(`${issued.id}\\s+.*\\s+revoked\n`));

    // The audit log has the refusal, under the token's name.
    const refused = await fleetJson<AuditEntry[]>(['audit', '--actor', issued.name]);
    expect(refused).toContainEqual(
      expect.objectContaining({ action: 'rollout.cancel', role: 'viewer', ok: false }),
    );
  });

  it('issues an enrollment token a device enrolls with once', async () => {
    const issued = await fleetJson<IssuedEnrollToken>([
      'enroll-token',
      'create',
      '--name',
      'cli-it',
      '--uses',
      '1',
    ]);
    expect(issued).toMatchObject({ name: 'cli-it', usesLeft: 1, expiresAt: null });
    const secret = await enrollDevice(url, 'cli-enrolled-1', issued.token);
    expect(secret).toMatch(/^cfd_/);
    const tokens = await fleetJson<EnrollTokenInfo[]>(['enroll-token', 'list']);
    expect(tokens).toContainEqual(expect.objectContaining({ id: issued.id, usesLeft: 0 }));
    const table = await fleet(['enroll-token', 'list']);
    expect(table.stdout).toMatch(new RegExp(`${issued.id}\\s+cli-it\\s+0\\s+.*\\s+used up\n`));
    expect((await fleet(['enroll-token', 'revoke', issued.id])).code).toBe(0);
  });

  it('shows the revoke in the audit log', async () => {
    const entries = await fleetJson<AuditEntry[]>(['audit', '--limit', '1000']);
    expect(entries).toContainEqual(
      expect.objectContaining({
        action: 'devices.credentials.revoke',
        ok: true,
        input: expect.stringContaining('cli-prov-1'),
      }),
    );
    // Secrets never reach the log.
    expect(JSON.stringify(entries)).not.toMatch(/cf[tde]_[A-Za-z0-9]/);
    const human = await fleet(['audit', '--limit', '1000']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^TIME\s+ACTOR\s+ACTION\s+RESULT\s+INPUT\n/);
    expect(human.stdout).toMatch(
      /\(admin\)\s+devices\.credentials\.revoke\s+ok\s+\{"deviceId":"cli-prov-1"\}/,
    );
    expect(human.stdout).toMatch(/\(viewer\)\s+rollout\.cancel\s+refused: role operator required/);
  });
});
