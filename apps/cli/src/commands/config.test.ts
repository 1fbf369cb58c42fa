import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath, parseConfigFile } from '../config-file.js';
import { resolveConfig } from '../session.js';
import { networkError, run, serverError } from '../test-helpers.js';

let home = '';
let env: Record<string, string> = {};
const file = (): string => join(home, '.config', 'camfleet', 'config.json');
const stats = () => ({
  devices: 0,
  online: 0,
  patches: 0,
  rollouts: 0,
  nodes: [],
});
const routes = { 'fleet.stats': stats };

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'fleet-config-'));
  env = { HOME: home };
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

async function setContext(name: string, url: string, token?: string) {
  const result = await run(
    ['config', 'set-context', name, '--url', url, ...(token !== undefined ? ['--token', token] : [])],
    { env },
  );
  expect(result.stderr).not.toMatch(/^error/);
  expect(result.code).toBe(0);
  return result;
}

describe('fleet config', () => {
  it('set-context writes the file with mode 0600; the first context becomes the current one', async () => {
    const result = await setContext('lab', 'http://lab:8080', 'lab-token-0123');
    expect(result.stdout).toBe('added context lab (http://lab:8080)\n');
    expect(result.stderr).toMatch(/context lab is now the current context/);
    expect(result.connects).toEqual([]);
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({
      currentContext: 'lab',
      contexts: { lab: { url: 'http://lab:8080', token: 'lab-token-0123' } },
    });

    await setContext('prod', 'https://prod:443', 'prod-token-0123');
    // Not switched: kubectl's behaviour once there is a current context.
    expect(JSON.parse(readFileSync(file(), 'utf8')).currentContext).toBe('lab');
    // Changing only the token keeps the URL; the mode stays 0600.
    const updated = await run(['config', 'set-context', 'prod', '--token', 'new-token-0123'], { env });
    expect(updated.stdout).toBe('updated context prod (https://prod:443)\n');
    expect(JSON.parse(readFileSync(file(), 'utf8')).contexts.prod).toEqual({
      url: 'https://prod:443',
      token: 'new-token-0123',
    });
    expect(statSync(file()).mode & 0o777).toBe(0o600);
  });

  it('get-contexts marks the current one and never prints a token', async () => {
    await setContext('lab', 'http://lab:8080', 'lab-token-0123');
    await setContext('prod', 'https://prod:443');
    const table = await run(['config', 'get-contexts'], { env });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CURRENT\s+NAME\s+URL\s+TOKEN$/);
    expect(lines[1]).toMatch(/^\*\s+lab\s+http:\/\/lab:8080\s+set$/);
    expect(lines[2]).toMatch(/^\s+prod\s+https:\/\/prod:443\s+none$/);
    expect(table.stdout).not.toMatch(/lab-token/);
    const json = await run(['config', 'get-contexts', '--json'], { env });
    expect(JSON.parse(json.stdout)).toEqual([
      { name: 'lab', current: true, url: 'http://lab:8080', hasToken: true },
      { name: 'prod', current: false, url: 'https://prod:443', hasToken: false },
    ]);
    expect(json.stdout).not.toMatch(/lab-token/);
  });

  it('use-context switches, current-context prints it, delete-context removes it', async () => {
    await setContext('lab', 'http://lab:8080', 'lab-token-0123');
    await setContext('prod', 'https://prod:443', 'prod-token-0123');
    expect(await run(['config', 'use-context', 'prod'], { env })).toMatchObject({
      code: 0,
      stdout: 'switched to context prod\n',
    });
    expect((await run(['config', 'current-context'], { env })).stdout).toBe('prod\n');
    expect(JSON.parse((await run(['config', 'current-context', '--json'], { env })).stdout)).toEqual({
      currentContext: 'prod',
    });
    const deleted = await run(['config', 'delete-context', 'prod'], { env });
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted context prod\n' });
    expect(deleted.stderr).toMatch(/it was the current context/);
    const none = await run(['config', 'current-context'], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^error: no current context in .*config\.json: fleet config use-context NAME/,
    );
    expect(Object.keys(JSON.parse(readFileSync(file(), 'utf8')).contexts)).toEqual(['lab']);
  });

  it.each([
    [['config', 'use-context', 'nope'], /no context 'nope' in .*: fleet config get-contexts lists them/],
    [['config', 'delete-context', 'nope'], /no context 'nope'/],
    [['config', 'set-context', 'x'], /give --url and\/or --token/],
    [['config', 'set-context', 'x', '--token', 't'], /a new context needs --url/],
    [['config', 'set-context', 'x', '--url', 'ftp://x'], /invalid server URL 'ftp:\/\/x'/],
    [['config', 'set-context', 'has space', '--url', 'http://x:1'], /invalid context name/],
    [['stats', '--context', 'nope'], /no context 'nope' in .*config\.json/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const result = await run(argv, { env, routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
  });

  it('respects XDG_CONFIG_HOME', async () => {
    const xdg = join(home, 'xdg');
    const result = await run(['config', 'set-context', 'lab', '--url', 'http://lab:1', '--token', 't'], {
      env: { HOME: home, XDG_CONFIG_HOME: xdg },
    });
    expect(result.code).toBe(0);
    expect(statSync(join(xdg, 'camfleet', 'config.json')).mode & 0o777).toBe(0o600);
    expect(configPath({ HOME: home, XDG_CONFIG_HOME: xdg })).toBe(join(xdg, 'camfleet', 'config.json'));
    // A relative XDG_CONFIG_HOME is ignored, as the spec says.
    expect(configPath({ HOME: home, XDG_CONFIG_HOME: 'rel' })).toBe(file());
    expect(configPath({})).toBeNull();
  });

  it('refuses a malformed file with its name (exit 2), but does not need it when the env says all', async () => {
    await mkdir(join(home, '.config', 'camfleet'), { recursive: true });
    writeFileSync(file(), '{"contexts": [1]}');
    const broken = await run(['stats'], { env, routes });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: invalid config file .*config\.json: contexts must be an object/);
    const envOnly = await run(['stats'], {
      env: { ...env, FLEET_URL: 'http://env:1', FLEET_TOKEN: 'env-token' },
      routes,
    });
    expect(envOnly.code).toBe(0);
    expect(() => parseConfigFile('nope', 'f')).toThrow(/invalid config file f/);
  });
});

describe('where the URL and the token come from', () => {
  beforeEach(async () => {
    await setContext('lab', 'http://lab:8080', 'lab-token');
    await setContext('prod', 'https://prod:443', 'prod-token');
  });

  it('a command uses the current context', async () => {
    const result = await run(['stats'], { env, routes });
    expect(result.code).toBe(0);
    expect(result.connects).toEqual([{ url: 'http://lab:8080', token: 'lab-token' }]);
    await run(['config', 'use-context', 'prod'], { env });
    expect((await run(['stats'], { env, routes })).connects).toEqual([
      { url: 'https://prod:443', token: 'prod-token' },
    ]);
  });

  it('flags > --context > FLEET_URL/FLEET_TOKEN > the current context, field by field', () => {
    const withEnv = { ...env, FLEET_URL: 'http://env:1', FLEET_TOKEN: 'env-token' };
    expect(resolveConfig({}, withEnv)).toMatchObject({
      url: 'http://env:1',
      token: 'env-token',
      urlFrom: 'FLEET_URL',
      tokenFrom: 'FLEET_TOKEN',
    });
    expect(resolveConfig({ url: 'http://flag:2' }, withEnv)).toMatchObject({
      url: 'http://flag:2',
      urlFrom: '--url',
      token: 'env-token',
    });
    expect(resolveConfig({ context: 'prod' }, withEnv)).toMatchObject({
      url: 'https://prod:443',
      token: 'prod-token',
      urlFrom: "context 'prod'",
      context: 'prod',
    });
    expect(resolveConfig({ context: 'prod', token: 'flag-token' }, withEnv)).toMatchObject({
      url: 'https://prod:443',
      token: 'flag-token',
      tokenFrom: '--token',
    });
    // Only FLEET_TOKEN set: the URL still comes from the current context.
    expect(resolveConfig({}, { ...env, FLEET_TOKEN: 'env-token' })).toMatchObject({
      url: 'http://lab:8080',
      urlFrom: "context 'lab'",
      token: 'env-token',
      tokenFrom: 'FLEET_TOKEN',
    });
  });

  it('--context works before or after the command', async () => {
    const after = await run(['stats', '--context', 'prod'], { env, routes });
    expect(after.connects).toEqual([{ url: 'https://prod:443', token: 'prod-token' }]);
    const before = await run(['--context', 'prod', 'stats'], { env, routes });
    expect(before.connects).toEqual([{ url: 'https://prod:443', token: 'prod-token' }]);
  });

  it('a context without a token says how to give one', async () => {
    await setContext('tokenless', 'http://t:1');
    const result = await run(['stats', '--context', 'tokenless'], { env, routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "error: no admin token: context 'tokenless' has none; set FLEET_TOKEN, pass --token, or: fleet config set-context tokenless --token TOKEN\n",
    );
  });

  it('errors name the context the URL or token came from', async () => {
    const unreachable = await run(['stats'], {
      env,
      routes: {
        'fleet.stats': () => {
          throw networkError('ECONNREFUSED');
        },
      },
    });
    expect(unreachable.code).toBe(7);
    expect(unreachable.stderr).toBe(
      "error: cannot reach the fleet server at http://lab:8080 (ECONNREFUSED); is a pod running there? The URL comes from context 'lab': check it with fleet config get-contexts, or override it with --url / FLEET_URL\n",
    );
    const refused = await run(['stats'], {
      env,
      routes: {
        'fleet.stats': () => {
          throw serverError('UNAUTHORIZED', 'UNAUTHORIZED', 'credentials refused', 401);
        },
      },
    });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(
      /^error: access denied: credentials refused \(the token was refused by http:\/\/lab:8080; it comes from context 'lab'/,
    );
  });
});
