/**
 * `fleet` as an operator runs it: a real process (runFleet/spawnFleet) against a real pod, and
 * under a pseudo-terminal (util-linux `script`) for what only a terminal shows: colours, the
 * live progress bar and in-place redraws.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeviceClient, enrollDevice, type WSClient } from '@camfleet/client';
import {
  freePort,
  PodProcess,
  ROOT,
  runFleet,
  spawnFleet,
  startTestRedis,
  TEST_TOKENS,
  type TestRedis,
  waitFor,
} from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ESC = '\u001b';
const SLOW = { timeoutMs: 60_000, intervalMs: 50 };

let redis: TestRedis;
let pod: PodProcess | undefined;
let url = '';
let home = '';
const sockets: WSClient[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  pod = await PodProcess.start(redis.url, 'cli-process-test', { FLEET_KEY_PREFIX: 'cliproc' });
  url = pod.url;
  home = mkdtempSync(join(tmpdir(), 'fleet-home-'));
}, 120_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const socket of sockets) socket.close();
  await pod?.kill('SIGTERM');
  await redis?.destroy();
  if (home !== '') rmSync(home, { recursive: true, force: true });
});

/** An environment where only the config file in `home` can say where the server is. */
function contextsOnly(): Record<string, string> {
  return { HOME: home, XDG_CONFIG_HOME: '', FLEET_URL: '', FLEET_TOKEN: '' };
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command line that runs the CLI, as `pnpm fleet` does without pnpm. */
function fleetCommand(args: readonly string[]): string {
  return [process.execPath, '--import', 'tsx', join(ROOT, 'apps/cli/src/main.ts'), ...args]
    .map(shellQuote)
    .join(' ');
}

interface TerminalRun {
  child: ChildProcess;
  output: () => string;
  /** The pid of the fleet process inside the terminal (for Ctrl-C). */
  pid: () => Promise<number>;
  done: Promise<{ code: number | null; output: string }>;
}

/** Runs `fleet args` on a 120x40 pseudo-terminal; NO_COLOR is left out unless `env` sets it. */
function inTerminal(args: readonly string[], env: Record<string, string> = {}): TerminalRun {
  const { NO_COLOR: _noColor, ...inherited } = process.env;
  const child = spawn(
    'script',
    ['-q', '-e', '-c', `stty cols 120 rows 40; echo FLEETPID=$$; exec ${fleetCommand(args)}`, '/dev/null'],
    {
      cwd: ROOT,
      env: { ...inherited, TERM: 'xterm-256color', FLEET_URL: url, FLEET_TOKEN: TEST_TOKENS.admin, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
  return {
    child,
    output: () => output,
    pid: () =>
      waitFor(
        () => {
          const match = /FLEETPID=(\d+)/.exec(output);
          return match ? Number(match[1]) : null;
        },
        { ...SLOW, what: 'the fleet process in the terminal to start' },
      ),
    done,
  };
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runFleet(url, args, env);
  expect(result.stderr).not.toMatch(/^error/m);
  expect(result.code, `fleet ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

describe('errors say what went wrong and what to do', () => {
  it('a wrong token: exit 5, naming where the token came from', async () => {
    const result = await runFleet(url, ['stats'], { FLEET_TOKEN: 'not-the-token-0123' });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(
        `^error: access denied: .*\\(the token was refused by ${url}; it comes from FLEET_TOKEN: check it, pass --token, or use a context \\(fleet config get-contexts\\)\\)\\n$`,
      ),
    );
  });

  it('an unreachable server: exit 7, naming the URL and where it came from', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const result = await runFleet(dead, ['rollout', 'list']);
    expect(result.code).toBe(7);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: cannot reach the fleet server at ${dead} (ECONNREFUSED); is a pod running there? The URL comes from FLEET_URL: check it, pass --url, or use a context (fleet config get-contexts)\n`,
    );
  });

  it('a rollout that does not exist: exit 4, saying how to list them', async () => {
    const result = await runFleet(url, ['rollout', 'status', 'ro_doesnotexist']);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^error: not found: .*ro_doesnotexist.* \(fleet rollout list shows what exists\)\n$/,
    );
  });

  it('no server configured at all: exit 2, saying how to configure one', async () => {
    const result = await runFleet(url, ['stats'], contextsOnly());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: no server URL: set FLEET_URL .*fleet config set-context NAME --url URL --token TOKEN\n$/,
    );
  });
});

describe('contexts', () => {
  it('set-context and use-context, then commands use the current context; --context picks another', async () => {
    const env = contextsOnly();
    const dead = `http://127.0.0.1:${await freePort()}`;
    expect(await ok(['config', 'set-context', 'lab', '--url', url, '--token', TEST_TOKENS.admin], env)).toBe(
      `added context lab (${url})\n`,
    );
    const file = join(home, '.config', 'camfleet', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await ok(['config', 'set-context', 'gone', '--url', dead, '--token', 'gone-token-0123'], env);

    const stats = JSON.parse(await ok(['stats', '--json'], env)) as { devices: number };
    expect(stats.devices).toBeGreaterThanOrEqual(0);

    expect(await ok(['config', 'use-context', 'gone'], env)).toBe('switched to context gone\n');
    expect(await ok(['config', 'current-context'], env)).toBe('gone\n');
    const unreachable = await runFleet(url, ['stats'], env);
    expect(unreachable.code).toBe(7);
    expect(unreachable.stderr).toContain(`cannot reach the fleet server at ${dead}`);
    expect(unreachable.stderr).toContain("The URL comes from context 'gone'");

    // --context beats the current context.
    await ok(['stats', '--context', 'lab'], env);
    // FLEET_URL beats the current context; the token still comes from it, and is refused.
    const mixed = await runFleet(url, ['stats'], { ...env, FLEET_URL: url });
    expect(mixed.code).toBe(5);
    expect(mixed.stderr).toContain("it comes from context 'gone'");

    const listed = await ok(['config', 'get-contexts'], env);
    expect(listed).toMatch(/^CURRENT\s+NAME\s+URL\s+TOKEN\n\*\s+gone\s+\S+\s+set\n\s+lab\s+\S+\s+set\n$/);
    expect(listed).not.toContain(TEST_TOKENS.admin);
    expect(listed).not.toContain('gone-token');

    expect(await ok(['config', 'delete-context', 'gone'], env)).toBe('deleted context gone\n');
    const unknown = await runFleet(url, ['stats', '--context', 'gone'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^error: no context 'gone' in .*config\.json: fleet config get-contexts lists them\n$/,
    );
  });
});

describe('shell completion', () => {
  it('bash: source <(fleet completion bash) registers it, and `fleet rol` completes to rollout', () => {
    const script = `
fleet() { ${fleetCommand([])} "$@"; }
source <(fleet completion bash)
complete -p fleet
COMP_WORDS=(fleet rol); COMP_CWORD=1; _fleet_completion; echo "rol: \${COMPREPLY[*]}"
COMP_WORDS=(fleet rollout create --on-failure ''); COMP_CWORD=4; _fleet_completion; echo "on-failure: \${COMPREPLY[*]}"`;
    const result = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      'complete -o default -F _fleet_completion fleet\nrol: rollout\non-failure: pause abort\n',
    );
  });

  it('zsh: a compdef script', async () => {
    const result = await runFleet(url, ['completion', 'zsh']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^#compdef fleet\n/);
    expect(result.stdout).toContain('compdef _fleet fleet');
    const which = spawnSync('sh', ['-c', 'command -v zsh'], { encoding: 'utf8' });
    if (which.status === 0) {
      const file = join(home, '_fleet');
      writeFileSync(file, result.stdout);
      const parsed = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
      expect(parsed.stderr).toBe('');
    }
  });
});

describe('on a terminal and off it', () => {
  let rolloutId = '';
  let patchId = '';

  beforeAll(async () => {
    // A device that registers but never takes its offer: the rollout stays at 0/1 until canceled.
    const deviceId = 'tty-cam-1';
    const secret = await enrollDevice(url, deviceId, TEST_TOKENS.enroll);
    const device = createDeviceClient({ baseUrl: url, deviceId, credentials: { secret } });
    sockets.push(device.wsClient);
    await device.client.device.register.mutate({ model: 'cam-x1', firmwareVersion: '1.0.0' });
    patchId = (await ok(['patch', 'publish', 'cam-firmware', '--version', '9.0.0'])).trim();
    rolloutId = (await ok(['rollout', 'create', '--patch', patchId, '--devices', deviceId])).trim();
  }, 120_000);

  it('colours on a terminal; none with NO_COLOR, with --no-color, or piped', async () => {
    const bold = `${ESC}[1m`;
    const coloured = await inTerminal(['rollout', 'list']).done;
    expect(coloured.code).toBe(0);
    expect(coloured.output).toContain(`${bold}ID`);
    for (const [args, env] of [
      [['rollout', 'list'], { NO_COLOR: '1' }],
      [['rollout', 'list', '--no-color'], {}],
    ] as const) {
      const plain = await inTerminal(args, env).done;
      expect(plain.code).toBe(0);
      expect(plain.output).toMatch(/ID\s+PATCH\s+STATUS/);
      expect(plain.output, JSON.stringify(args)).not.toContain(ESC);
    }
    // Piped, even without NO_COLOR (an empty one does not count).
    const piped = await runFleet(url, ['rollout', 'list'], { NO_COLOR: '' });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(/^ID\s+PATCH\s+STATUS/);
    expect(piped.stdout).not.toContain(ESC);
  });

  it('rollout watch draws a live progress bar on a terminal, and plain lines when piped', async () => {
    const terminal = inTerminal(['rollout', 'watch', rolloutId, '--timeout', '2m']);
    await waitFor(() => terminal.output().includes('0/1 finished'), {
      ...SLOW,
      what: 'the progress bar in the terminal',
    });
    const piped = spawnFleet(url, ['rollout', 'watch', rolloutId, '--timeout', '2m']);
    children.push(piped);
    let pipedOut = '';
    piped.stdout?.on('data', (chunk: Buffer) => {
      pipedOut += chunk.toString();
    });
    const pipedDone = new Promise<number | null>((resolve) => piped.once('exit', (code) => resolve(code)));
    await waitFor(() => pipedOut.includes(rolloutId), { ...SLOW, what: 'the piped watch to print a line' });

    await ok(['rollout', 'cancel', rolloutId, '--reason', 'tty test']);
    const { code, output } = await terminal.done;
    expect(code).toBe(1);
    expect(output).toContain(`${ESC}[?25l`); // the cursor hidden while the bar is drawn
    expect(output).toMatch(/[█░]{30}/u); // the bar itself
    expect(output).toContain(`${ESC}[36m`); // coloured (cyan bar)
    expect(output).toMatch(new RegExp(`error: rollout ${rolloutId} was canceled \\(by \\S+: tty test\\)`));

    expect(await pipedDone).toBe(1);
    expect(pipedOut).not.toContain(ESC);
    expect(pipedOut).not.toMatch(/[█░]/u);
    expect(pipedOut).toMatch(new RegExp(`Z ${rolloutId} active wave 1/1 0/1 finished`));
    expect(pipedOut.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^${rolloutId} canceled: `));
  });

  it('rollout list --watch redraws in place on a terminal on each change until Ctrl-C (130); piped it prints tables', async () => {
    const terminal = inTerminal(['rollout', 'list', '--watch', '--interval', '250ms']);
    const pid = await terminal.pid();
    await waitFor(() => terminal.output().includes(rolloutId), { ...SLOW, what: 'the first frame' });
    // A change is pushed by the server's subscription and redrawn.
    const added = (await ok(['rollout', 'create', '--patch', patchId, '--devices', 'nobody-0'])).trim();
    await waitFor(
      () => {
        const frames = terminal.output().split('Live (checked every 0.25s): fleet rollout list');
        return frames.length > 2 && (frames.at(-1) ?? '').includes(added);
      },
      { ...SLOW, what: 'a redraw with the new rollout' },
    );
    await ok(['rollout', 'cancel', added]);
    process.kill(pid, 'SIGINT');
    const { code, output } = await terminal.done;
    expect(code).toBe(130);
    expect(output).toContain(`${ESC}[?25l`);
    expect(output).toMatch(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`)); // cursor up, clear: a redraw
    expect(output).toContain(`${ESC}[?25h`); // the cursor is back after Ctrl-C
    expect(output).toContain(rolloutId);

    const piped = spawnFleet(url, ['rollout', 'list', '--watch', '--interval', '250ms']);
    children.push(piped);
    let pipedOut = '';
    piped.stdout?.on('data', (chunk: Buffer) => {
      pipedOut += chunk.toString();
    });
    const pipedDone = new Promise<number | null>((resolve) => piped.once('exit', (code) => resolve(code)));
    await waitFor(() => pipedOut.includes(rolloutId), { ...SLOW, what: 'the piped table' });
    // A change (a new rollout) prints a second table after a blank line.
    const second = (await ok(['rollout', 'create', '--patch', patchId, '--devices', 'nobody-1'])).trim();
    await waitFor(() => pipedOut.includes(second), { ...SLOW, what: 'a second table after a change' });
    piped.kill('SIGINT');
    expect(await pipedDone).toBe(130);
    expect(pipedOut).not.toContain(ESC);
    const tables = pipedOut.trimEnd().split('\n\n');
    expect(tables.length).toBeGreaterThanOrEqual(2);
    for (const table of tables) expect(table).toMatch(/^ID\s+PATCH\s+STATUS/);
    await ok(['rollout', 'cancel', second]);
  });
});
