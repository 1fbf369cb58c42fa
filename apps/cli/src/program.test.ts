// Over 400 lines: the whole command tree against one table of fake routes, flag by flag and exit code by exit code.
import { describe, expect, it } from 'vitest';
import {
  deliveryEventFixture,
  deviceFixture,
  hasAnsi,
  networkError,
  patchDetailFixture,
  patchFixture,
  rolloutEventFixture,
  rolloutFixture,
  run,
  serverError,
  TEST_ENV,
} from './test-helpers.js';

const patch = patchFixture();
const rollout = rolloutFixture({ succeeded: 2, failed: 1, installing: 1 });

const token = {
  id: '0123456789ab',
  name: 'ci',
  role: 'viewer',
  createdAt: 1,
  createdBy: 'admin',
  expiresAt: null,
  revokedAt: null,
};
const enrollToken = {
  id: '0123456789ab',
  name: 'site-a',
  usesLeft: 5,
  createdAt: 1,
  createdBy: 'admin',
  expiresAt: null,
  revokedAt: null,
};

/** Routes answering every query/mutation the CLI makes. */
const routes = {
  'patch.publish': () => patch,
  'patch.list': () => [patch, patchFixture({ id: 'pat_def456', version: '1.4.3', notes: '' })],
  'patch.get': () => patchDetailFixture(),
  'patch.delete': () => ({ patchId: 'pat_abc123', deleted: true }),
  'rollout.create': () => rolloutFixture(),
  'rollout.get': () => rollout,
  'rollout.list': () => [rollout],
  'rollout.cancel': () => rolloutFixture({ succeeded: 2, canceled: 2 }, { status: 'canceled' }),
  'rollout.pause': () =>
    rolloutFixture(
      { succeeded: 2, queued: 2 },
      { status: 'paused', reason: 'r', statusBy: 'bob', gate: { kind: 'paused', reason: 'r' } },
    ),
  'rollout.resume': () => rollout,
  'rollout.advance': () => rollout,
  'devices.list': () => ({
    devices: [deviceFixture('cam-1'), deviceFixture('cam-2', { online: false })],
    nextCursor: null,
  }),
  'devices.get': () => ({
    device: deviceFixture('cam-1'),
    deliveries: [
      {
        deliveryId: 'ro_xyz789:cam-1',
        rolloutId: 'ro_xyz789',
        deviceId: 'cam-1',
        patchId: 'pat_abc123',
        state: 'failed',
        attempt: 2,
        failures: 2,
        maxAttempts: 2,
        lastError: 'checksum mismatch',
        createdAt: 1,
        updatedAt: 2,
        retryAt: null,
      },
    ],
    history: [
      {
        at: 2,
        rolloutId: 'ro_xyz789',
        attempt: 2,
        from: 'installing',
        to: 'failed',
        error: 'checksum mismatch',
      },
    ],
  }),
  'events.list': () => [
    rolloutEventFixture('1740830340000-0/g'),
    deliveryEventFixture('1740830370000-0/b1', { error: 'slow link' }),
  ],
  'devices.credentials.provision': () => ({ deviceId: 'cam-42', secret: 'cfd_secret' }),
  'devices.credentials.rotate': () => ({ deviceId: 'cam-42', secret: 'cfd_secret2' }),
  'devices.credentials.revoke': () => ({ deviceId: 'cam-42', revoked: true }),
  'tokens.create': () => ({ ...token, token: 'cft_0123456789ab_x' }),
  'tokens.list': () => [token],
  'tokens.revoke': () => ({ ...token, revokedAt: 1 }),
  'enrollTokens.create': () => ({ ...enrollToken, token: 'cfe_0123456789ab_x' }),
  'enrollTokens.list': () => [enrollToken],
  'enrollTokens.revoke': () => ({ ...enrollToken, revokedAt: 1 }),
  'audit.list': () => [
    {
      id: '1-0',
      at: 1,
      actor: 'admin',
      role: 'admin',
      action: 'tokens.create',
      input: '{"name":"ci"}',
      ok: true,
      error: null,
    },
  ],
  'fleet.stats': () => ({
    devices: 2,
    online: 1,
    patches: 2,
    rollouts: 1,
    nodes: [{ node: 'pod-a', devices: 1 }],
  }),
};

/** Every read-only command, as a user would type it. */
const COMMANDS: string[][] = [
  ['patch', 'publish', 'cam-firmware', '--version', '1.4.2', '--notes', 'n'],
  ['patch', 'list'],
  ['patch', 'show', 'pat_abc123'],
  ['patch', 'delete', 'pat_abc123'],
  ['rollout', 'create', '--patch', 'pat_abc123', '--all'],
  ['rollout', 'create', '--patch', 'pat_abc123', '--selector', 'site=berlin', '--waves', '1,10,100'],
  ['rollout', 'create', '--patch', 'pat_abc123', '--devices', 'cam-1,cam-2'],
  ['rollout', 'status', 'ro_xyz789'],
  ['rollout', 'list'],
  ['rollout', 'pause', 'ro_xyz789', '--reason', 'maintenance'],
  ['rollout', 'resume', 'ro_xyz789'],
  ['rollout', 'advance', 'ro_xyz789'],
  ['rollout', 'cancel', 'ro_xyz789', '--reason', 'bad build'],
  ['devices', 'list'],
  ['device', 'show', 'cam-1'],
  ['events'],
  ['events', '--rollout', 'ro_xyz789', '--limit', '10'],
  ['stats'],
  ['device', 'provision', 'cam-42', '--model', 'cam-x1', '--labels', 'site=berlin'],
  ['device', 'rotate', 'cam-42'],
  ['device', 'revoke', 'cam-42'],
  ['token', 'create', '--role', 'viewer', '--expires', '30d'],
  ['token', 'list'],
  ['token', 'revoke', '0123456789ab'],
  ['enroll-token', 'create', '--uses', '5', '--expires', '7d'],
  ['enroll-token', 'list'],
  ['enroll-token', 'revoke', '0123456789ab'],
  ['audit', '--limit', '10'],
];

describe('configuration', () => {
  it('needs a token: exit 2, a clear message, nothing sent', async () => {
    const result = await run(['stats'], { routes, env: { FLEET_URL: 'http://x:1' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'error: no admin token: set FLEET_TOKEN, pass --token, or add a context: fleet config set-context NAME --url URL --token TOKEN\n',
    );
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
  });

  it('needs a URL, and an http(s) one', async () => {
    const missing = await run(['stats', '--json'], { routes, env: { FLEET_TOKEN: 't' } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/FLEET_URL/);
    const bad = await run(['stats'], { routes, env: { FLEET_URL: 'ftp://x', FLEET_TOKEN: 't' } });
    expect(bad.code).toBe(2);
    expect(bad.connects).toEqual([]);
  });

  it('lets --url and --token override the environment, before or after the command', async () => {
    const result = await run(['stats', '--url', 'http://other:9', '--token', 'tok2'], { routes });
    expect(result.code).toBe(0);
    expect(result.connects).toEqual([{ url: 'http://other:9', token: 'tok2' }]);
    const before = await run(['--token', 'tok3', 'stats'], { routes });
    expect(before.connects).toEqual([{ url: TEST_ENV.FLEET_URL, token: 'tok3' }]);
  });
});

describe('argument validation (exit 2, nothing sent)', () => {
  it.each([
    [['rollout', 'create', '--patch', 'pat_abc123'], /choose the target devices: --all, --devices/],
    [
      ['rollout', 'create', '--patch', 'pat_abc123', '--all', '--ack-timeout', 'soon'],
      /invalid duration for --ack-timeout/,
    ],
    [['rollout', 'create', '--patch', 'pat_abc123', '--all', '--retry-base', '2 s'], /--retry-base/],
    [['rollout', 'create', '--patch', 'pat_abc123', '--all', '--max-attempts', '0'], /--max-attempts/],
    [['rollout', 'create', '--patch', 'pat_abc123', '--all', '--ack-timeout', '10ms'], /ackTimeoutMs/],
    [
      ['rollout', 'create', '--patch', 'pat_abc123', '--all', '--retry-base', '10s', '--retry-max', '1s'],
      /maxMs/,
    ],
    [['rollout', 'create', '--all'], /--patch/],
    [['rollout', 'create', '--patch', 'nope', '--all'], /patchId/],
    [['rollout', 'watch', 'ro_xyz789', '--timeout', 'forever'], /--timeout/],
    [['rollout', 'status', 'not-a-rollout'], /invalid rollout id/],
    [['patch', 'show', 'x'], /invalid patch id/],
    [['patch', 'publish', 'cam-firmware'], /--version/],
    [['patch', 'publish', 'bad/name', '--version', '1'], /invalid patch/],
    [['devices', 'list', '--limit', 'many'], /--limit/],
    [['devices', 'list', '--online', '--offline'], /exclude/],
    [['device', 'show', 'has space'], /invalid device id/],
    [['rollout', 'frobnicate'], /unknown command/],
    [['stats', '--verbose'], /unknown option/],
    [['rollout', 'status'], /missing required argument/],
  ])('%j', async (argv, message) => {
    const result = await run(argv, { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
    expect(result.calls).toEqual([]);
  });

  it('treats a bare command group as a usage error, --help as success', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['rollout'])).code).toBe(2);
    const group = await run(['help', 'rollout']);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/watch/);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:/);
    expect(help.stdout).toMatch(/4 {2}not found/);
    expect(help.stdout).toMatch(/7 {2}server unreachable/);
    expect(help.stdout).toMatch(/1 {2}failure \(rollout watch: the rollout was aborted or canceled/);
    expect(help.stdout).toMatch(/2 {2}usage .*selector/);
    expect(help.stdout).toMatch(/\n {2}events /);
    expect(help.stdout).toMatch(
      /--json .*exactly one JSON document .*\(events --follow and\s+--watch: one JSON object\s+per\s+line\)/,
    );
    const events = await run(['events', '--help']);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/NDJSON\) instead: the one exception to "exactly one JSON document"/);
    for (const command of ['pause', 'resume', 'advance', 'cancel', 'watch']) {
      expect(group.stdout).toMatch(new RegExp(`\\n {2}${command} `));
    }
  });

  it('lists the credential, token and audit commands in --help', async () => {
    const help = await run(['--help']);
    for (const command of ['token\\|tokens', 'enroll-token\\|enroll-tokens', 'audit']) {
      expect(help.stdout).toMatch(new RegExp(`\\n {2}${command} `));
    }
    expect(help.stdout).toMatch(/FLEET_TOKEN .*its role/);
    const device = await run(['device', '--help']);
    expect(device.code).toBe(0);
    for (const command of ['show', 'provision', 'rotate', 'revoke']) {
      expect(device.stdout).toMatch(new RegExp(`\\n {2}${command}[ |]`));
    }
    const create = await run(['token', 'create', '--help']);
    expect(create.stdout).toMatch(/--role <role> .*choices: "viewer", "operator", "admin"/);
    expect(create.stdout).toMatch(/--expires <duration> .*30d/);
  });
});

describe('requests', () => {
  it('rollout create sends the flags as milliseconds, and only the ones given', async () => {
    const result = await run(
      [
        'rollout',
        'create',
        '--patch',
        'pat_abc123',
        '--all',
        '--ack-timeout',
        '30s',
        '--max-attempts',
        '3',
        '--retry-base',
        '500ms',
        '--retry-max',
        '1m',
      ],
      { routes },
    );
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      {
        path: 'rollout.create',
        input: {
          patchId: 'pat_abc123',
          target: { kind: 'all' },
          ackTimeoutMs: 30_000,
          maxAttempts: 3,
          retryBackoff: { baseMs: 500, maxMs: 60_000 },
        },
      },
    ]);
    const bare = await run(['rollout', 'create', '--patch', 'pat_abc123', '--all'], { routes });
    expect(bare.calls[0]?.input).toEqual({ patchId: 'pat_abc123', target: { kind: 'all' } });
  });

  it('patch publish prints the id', async () => {
    const result = await run(['patch', 'publish', 'cam-firmware', '--version', '1.4.2'], { routes });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('pat_abc123\n');
    expect(result.calls[0]?.input).toEqual({ name: 'cam-firmware', version: '1.4.2', notes: '' });
  });

  it('rollout create prints the id', async () => {
    const result = await run(['rollout', 'create', '--patch', 'pat_abc123', '--all'], { routes });
    expect(result.stdout).toBe('ro_xyz789\n');
  });

  it('devices list --all-pages follows nextCursor and merges the pages', async () => {
    const pages: Record<string, { devices: ReturnType<typeof deviceFixture>[]; nextCursor: string | null }> =
      {
        start: { devices: [deviceFixture('cam-1'), deviceFixture('cam-2')], nextCursor: 'c1' },
        c1: { devices: [deviceFixture('cam-3')], nextCursor: 'c2' },
        c2: { devices: [], nextCursor: null },
      };
    const list = (input: unknown) => pages[(input as { cursor?: string }).cursor ?? 'start'];
    const result = await run(['devices', 'list', '--all-pages', '--online', '--limit', '2', '--json'], {
      routes: { 'devices.list': list },
    });
    expect(result.code).toBe(0);
    expect(result.calls.map((c) => c.input)).toEqual([
      { limit: 2, online: true },
      { limit: 2, online: true, cursor: 'c1' },
      { limit: 2, online: true, cursor: 'c2' },
    ]);
    const page = JSON.parse(result.stdout) as { devices: Array<{ id: string }>; nextCursor: null };
    expect(page.devices.map((d) => d.id)).toEqual(['cam-1', 'cam-2', 'cam-3']);
    expect(page.nextCursor).toBeNull();
  });

  it('devices list --selector asks the server to filter, and refuses a malformed selector (exit 2)', async () => {
    const list = () => ({ devices: [deviceFixture('cam-1')], nextCursor: null });
    const result = await run(['devices', 'list', '--selector', 'site=north', '--json'], {
      routes: { 'devices.list': list },
    });
    expect(result.code).toBe(0);
    expect(result.calls.map((c) => c.input)).toEqual([{ limit: 100, selector: 'site=north' }]);
    const bad = await run(['devices', 'list', '--selector', 'site in ('], {
      routes: { 'devices.list': list },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid --selector/);
    expect(bad.calls).toHaveLength(0);
  });

  it('devices list without --all-pages shows one page and hints at the cursor on stderr', async () => {
    const result = await run(['devices', 'list', '--limit', '1'], {
      routes: { 'devices.list': () => ({ devices: [deviceFixture('cam-1')], nextCursor: 'c1' }) },
    });
    expect(result.calls).toHaveLength(1);
    expect(result.stdout).toMatch(/cam-1/);
    expect(result.stderr).toMatch(/--cursor c1/);
  });
});

describe('--json', () => {
  it.each(COMMANDS)('%s %s: exactly one JSON document on stdout, nothing on stderr', async (...argv) => {
    const result = await run([...argv, '--json'], { routes, tty: true, stderrTTY: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(hasAnsi(result.stdout)).toBe(false);
    expect(() => JSON.parse(result.stdout)).not.toThrow();
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(/^[}\]]$/);
  });

  it('rollout status --json is the RolloutStatus', async () => {
    const result = await run(['rollout', 'status', 'ro_xyz789', '--json'], { routes });
    expect(JSON.parse(result.stdout)).toEqual(rollout);
  });

  it('patch publish --json is the Patch', async () => {
    const result = await run(['--json', 'patch', 'publish', 'cam-firmware', '--version', '1.4.2'], {
      routes,
    });
    expect(JSON.parse(result.stdout)).toEqual(patch);
  });

  it('errors still go to stderr with the same exit code', async () => {
    const notFound = () => {
      throw serverError('NOT_FOUND', 'NOT_FOUND', 'rollout ro_xyz789 not found', 404);
    };
    const result = await run(['rollout', 'status', 'ro_xyz789', '--json'], {
      routes: { 'rollout.get': notFound },
    });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'error: not found: rollout ro_xyz789 not found (fleet rollout list shows what exists)\n',
    );
  });
});

describe('exit codes from server errors', () => {
  it.each([
    [serverError('NOT_FOUND', 'NOT_FOUND', 'no such device', 404), 4],
    [serverError('UNAUTHORIZED', 'UNAUTHORIZED', 'admin token required', 401), 5],
    [serverError('FORBIDDEN', 'FORBIDDEN', 'role operator required, token has viewer', 403), 5],
    [serverError('CONFLICT', 'CONFLICT', 'rollout already canceled', 409), 6],
    [serverError('SERVICE_UNAVAILABLE', 'UNAVAILABLE', 'redis down', 503), 7],
    [networkError('ECONNREFUSED'), 7],
    [serverError('INTERNAL_SERVER_ERROR', null, 'oops'), 1],
  ])('%s → %i', async (error, code) => {
    const fail = () => {
      throw error;
    };
    const result = await run(['rollout', 'cancel', 'ro_xyz789'], { routes: { 'rollout.cancel': fail } });
    expect(result.code).toBe(code);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(2); // one line, newline-terminated
  });
});

describe('human output', () => {
  it.each(COMMANDS)('%s %s: no ANSI codes off a TTY', async (...argv) => {
    const result = await run(argv, { routes, env: { ...TEST_ENV, FORCE_COLOR: '1' } });
    expect(result.code).toBe(0);
    expect(hasAnsi(result.stdout)).toBe(false);
    expect(hasAnsi(result.stderr)).toBe(false);
    expect(result.stdout).not.toBe('');
  });

  it('uses colours on a TTY', async () => {
    const result = await run(['rollout', 'status', 'ro_xyz789'], { routes, tty: true });
    expect(hasAnsi(result.stdout)).toBe(true);
  });

  it('rollout status shows the counts by state', async () => {
    const result = await run(['rollout', 'status', 'ro_xyz789'], { routes });
    expect(result.stdout).toMatch(/Status\s+active/);
    expect(result.stdout).toMatch(/Progress\s+3\/4 finished \(75%\), 1 in progress/);
    expect(result.stdout).toMatch(/succeeded\s+2/);
    expect(result.stdout).toMatch(/failed\s+1/);
    expect(result.stdout).toMatch(/Created\s+2025-03-01 11:59:00Z \(1m ago\) by alice/);
  });

  it('device show has the device, its deliveries and its history', async () => {
    const result = await run(['device', 'show', 'cam-1'], { routes });
    expect(result.stdout).toMatch(/Device\s+cam-1/);
    expect(result.stdout).toMatch(/Deliveries\nROLLOUT\s+PATCH\s+STATE/);
    expect(result.stdout).toMatch(/ro_xyz789\s+pat_abc123\s+failed\s+2\s+2\/2\s+checksum mismatch/);
    expect(result.stdout).toMatch(/History/);
    expect(result.stdout).toMatch(/installing\s+failed/);
  });

  it('devices list is a table', async () => {
    const result = await run(['devices', 'list'], { routes });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+MODEL\s+FIRMWARE\s+STATUS\s+NODE\s+LAST SEEN\s+LABELS$/);
    expect(lines[1]).toMatch(/^cam-1\s+cam-x1\s+1\.4\.1\s+online\s+pod-a\s+30s ago\s+site=north$/);
    expect(lines[2]).toMatch(/^cam-2\s+.*offline/);
  });

  it('says so on stderr when a list is empty', async () => {
    const result = await run(['rollout', 'list'], { routes: { 'rollout.list': () => [] } });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no rollouts/);
  });
});
