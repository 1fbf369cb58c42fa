import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Handler, run, serverError } from '../../test-helpers.js';

const SECRET = 'cfd_s3cr3t-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const ROTATED = 'cfd_r0tated-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

const routes: Record<string, Handler> = {
  'devices.credentials.provision': (input) => ({
    deviceId: (input as { deviceId: string }).deviceId,
    secret: SECRET,
  }),
  'devices.credentials.rotate': (input) => ({
    deviceId: (input as { deviceId: string }).deviceId,
    secret: ROTATED,
  }),
  'devices.credentials.revoke': (input) => ({
    deviceId: (input as { deviceId: string }).deviceId,
    revoked: true,
  }),
};

const fail =
  (error: unknown): Handler =>
  () => {
    throw error;
  };

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-cli-creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileOf(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}

describe('device provision', () => {
  it('sends the device id, and the model and labels given', async () => {
    const result = await run(
      ['device', 'provision', 'cam-42', '--model', 'cam-x1', '--labels', 'site=berlin, tier=canary,empty='],
      { routes },
    );
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      {
        path: 'devices.credentials.provision',
        input: { deviceId: 'cam-42', model: 'cam-x1', labels: { site: 'berlin', tier: 'canary', empty: '' } },
      },
    ]);
  });

  it('leaves out the flags not given (the server defaults apply)', async () => {
    const result = await run(['device', 'provision', 'cam-42'], { routes });
    expect(result.calls).toEqual([{ path: 'devices.credentials.provision', input: { deviceId: 'cam-42' } }]);
  });

  it('prints the secret once, with a note on stderr that it is shown only once', async () => {
    const result = await run(['device', 'provision', 'cam-42'], { routes });
    expect(result.stdout).toBe(`secret for cam-42: ${SECRET}\n`);
    expect(result.stderr).toMatch(/shown only once/);
    expect(result.stderr).toMatch(/fleet device rotate cam-42/);
    expect(result.stderr).not.toContain(SECRET);
  });

  it('--json prints {deviceId, secret} and nothing on stderr', async () => {
    const result = await run(['device', 'provision', 'cam-42', '--json'], { routes, stderrTTY: true });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ deviceId: 'cam-42', secret: SECRET });
    expect(result.stderr).toBe('');
  });

  it.each([
    [['device', 'provision', 'has space'], /invalid device id 'has space'/],
    [['device', 'provision', '-cam'], /unknown option/],
    [['device', 'provision', 'cam-1', '--model', ''], /invalid device: --model: /],
    [['device', 'provision', 'cam-1', '--model', 'x'.repeat(65)], /--model/],
    [
      ['device', 'provision', 'cam-1', '--labels', 'site'],
      /invalid value for --labels: 'site' \(labels are key=value/,
    ],
    [['device', 'provision', 'cam-1', '--labels', '=berlin'], /labels are key=value/],
    [['device', 'provision', 'cam-1', '--labels', 'a=1,,b=2'], /without empty items/],
    [['device', 'provision', 'cam-1', '--labels', 'a=1,a=2'], /label 'a' given twice/],
    [['device', 'provision', 'cam-1', '--labels', 'bad key=1'], /invalid label key 'bad key' in --labels/],
    [['device', 'provision', 'cam-1', '--labels', `k=${'v'.repeat(129)}`], /invalid value of label 'k'/],
    [
      ['device', 'provision', 'cam-1', '--labels', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
      /at most 32 labels/,
    ],
    [['device', 'provision'], /missing required argument/],
    [['device', 'rotate', 'cam 1'], /invalid device id/],
    [['device', 'revoke', ''], /invalid device id ''/],
  ])('%j: exit 2, nothing sent', async (argv, message) => {
    const result = await run(argv, { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
  });

  it('exits 6 when the device already has a credential', async () => {
    const conflict = serverError(
      'CONFLICT',
      'CONFLICT',
      'device cam-42 already has a credential; rotate it',
      409,
    );
    const result = await run(['device', 'provision', 'cam-42'], {
      routes: { 'devices.credentials.provision': fail(conflict) },
    });
    expect(result.code).toBe(6);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('error: conflict: device cam-42 already has a credential; rotate it\n');
  });
});

describe('device provision --credentials', () => {
  it('creates the file with mode 0600, holding the secret', async () => {
    const path = join(dir, 'creds.json');
    const result = await run(['device', 'provision', 'cam-42', '--credentials', path], { routes });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`secret for cam-42: ${SECRET}\n`);
    expect(result.stderr).toContain(`saved to ${path}`);
    expect(await fileOf(path)).toEqual({ 'cam-42': SECRET });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('merges into an existing file, keeping its other devices, and makes it 0600', async () => {
    const path = join(dir, 'creds.json');
    await writeFile(path, JSON.stringify({ 'cam-1': 'cfd_one', 'cam-42': 'cfd_old' }), { mode: 0o644 });
    const result = await run(['device', 'provision', 'cam-42', '--credentials', path, '--json'], { routes });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ deviceId: 'cam-42', secret: SECRET });
    expect(await fileOf(path)).toEqual({ 'cam-1': 'cfd_one', 'cam-42': SECRET });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    // Written by rename: no temp file left behind.
    expect(await readdir(dir)).toEqual(['creds.json']);
  });

  it('keeps what was added to the file while the request was under way', async () => {
    const path = join(dir, 'creds.json');
    await writeFile(path, JSON.stringify({ 'cam-1': 'cfd_one' }));
    const result = await run(['device', 'provision', 'cam-42', '--credentials', path], {
      routes: {
        'devices.credentials.provision': async () => {
          await writeFile(path, JSON.stringify({ 'cam-1': 'cfd_one', 'cam-2': 'cfd_two' }));
          return { deviceId: 'cam-42', secret: SECRET };
        },
      },
    });
    expect(result.code).toBe(0);
    expect(await fileOf(path)).toEqual({ 'cam-1': 'cfd_one', 'cam-2': 'cfd_two', 'cam-42': SECRET });
  });

  it.each([
    ['not JSON', 'nope', /is not JSON/],
    ['an array', '[]', /expected a JSON object of device id to secret/],
    ['a number secret', '{"cam-1": 5}', /the secret of "cam-1" is not a non-empty string/],
  ])('refuses a file that is %s before asking for a secret (exit 2)', async (_what, content, message) => {
    const path = join(dir, 'creds.json');
    await writeFile(path, content);
    const result = await run(['device', 'provision', 'cam-42', '--credentials', path], { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.calls).toEqual([]);
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('refuses a file in a directory that does not exist before asking (exit 2)', async () => {
    const result = await run(['device', 'provision', 'cam-42', '--credentials', join(dir, 'no', 'c.json')], {
      routes,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot write --credentials/);
    expect(result.calls).toEqual([]);
  });

  it('still prints the secret when it cannot be saved, then exits 1', async () => {
    const path = join(dir, 'creds.json');
    const result = await run(['device', 'provision', 'cam-42', '--credentials', path], {
      routes: {
        'devices.credentials.provision': async () => {
          await writeFile(path, 'garbage');
          return { deviceId: 'cam-42', secret: SECRET };
        },
      },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(`secret for cam-42: ${SECRET}\n`);
    expect(result.stderr).toMatch(
      new RegExp(`^error: could not save the secret to ${path}: .*not JSON`, 'm'),
    );
    expect(await readdir(dir)).toEqual(['creds.json']);
  });
});

describe('device rotate', () => {
  it('sends the device id and prints the new secret', async () => {
    const result = await run(['device', 'rotate', 'cam-42'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'devices.credentials.rotate', input: { deviceId: 'cam-42' } }]);
    expect(result.stdout).toBe(`secret for cam-42: ${ROTATED}\n`);
    expect(result.stderr).toMatch(/shown only once/);
  });

  it('--json prints {deviceId, secret}', async () => {
    const result = await run(['device', 'rotate', 'cam-42', '--json'], { routes });
    expect(JSON.parse(result.stdout)).toEqual({ deviceId: 'cam-42', secret: ROTATED });
    expect(result.stderr).toBe('');
  });

  it('--credentials replaces the old secret in the file', async () => {
    const path = join(dir, 'creds.json');
    await writeFile(path, JSON.stringify({ 'cam-42': SECRET, 'cam-7': 'cfd_seven' }));
    const result = await run(['device', 'rotate', 'cam-42', '--credentials', path], { routes });
    expect(result.code).toBe(0);
    expect(await fileOf(path)).toEqual({ 'cam-42': ROTATED, 'cam-7': 'cfd_seven' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('exits 4 for a device that does not exist', async () => {
    const result = await run(['device', 'rotate', 'cam-nobody'], {
      routes: {
        'devices.credentials.rotate': fail(
          serverError('NOT_FOUND', 'NOT_FOUND', 'no device cam-nobody', 404),
        ),
      },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(
      'error: not found: no device cam-nobody (fleet devices list shows what exists)\n',
    );
  });
});

describe('device revoke', () => {
  it('sends the device id and says so', async () => {
    const result = await run(['device', 'revoke', 'cam-42'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'devices.credentials.revoke', input: { deviceId: 'cam-42' } }]);
    expect(result.stdout).toBe('revoked the credentials of cam-42\n');
  });

  it('--json prints {deviceId, revoked: true}', async () => {
    const result = await run(['device', 'revoke', 'cam-42', '--json'], { routes });
    expect(JSON.parse(result.stdout)).toEqual({ deviceId: 'cam-42', revoked: true });
    expect(result.stderr).toBe('');
  });
});

describe('below the admin role', () => {
  it.each([
    ['devices.credentials.provision', ['device', 'provision', 'cam-42']],
    ['devices.credentials.rotate', ['device', 'rotate', 'cam-42']],
    ['devices.credentials.revoke', ['device', 'revoke', 'cam-42']],
  ])('%s: FORBIDDEN → exit 5', async (path, argv) => {
    const forbidden = serverError('FORBIDDEN', null, 'role admin required, token has operator', 403);
    const result = await run([...argv, '--json'], { routes: { [path]: fail(forbidden) } });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      "error: access denied: role admin required, token has operator (the token's role does not allow this: use a token with that role; fleet token create --role … issues one)\n",
    );
  });
});
