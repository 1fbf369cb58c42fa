/** The CLI's manners: examples in every --help, --json everywhere, widths, colours, --watch. */

import type { RolloutStatus } from '@camfleet/contracts';
import picocolors from 'picocolors';
import { describe, expect, it } from 'vitest';
import { allCommands, commandPath } from './help.js';
import { buildProgram } from './program.js';
import { fitWidths, stripAnsi, table, truncateAnsi } from './table.js';
import {
  captured,
  deviceFixture,
  hasAnsi,
  networkError,
  rolloutFixture,
  run,
  type SubscribeHandler,
  serverError,
  TEST_ENV,
} from './test-helpers.js';

const ESC = '\u001b';
const program = buildProgram({ stdout: captured(), stderr: captured(), env: {} });
const paths = allCommands(program).map((command) => commandPath(command).slice(1));

describe('--help', () => {
  it.each(paths.map((path) => [path.join(' ') || '(fleet)', path]))(
    'fleet %s --help shows at least one example',
    async (_name, path) => {
      const result = await run([...path, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/\nExamples:\n {2}(fleet|source|[A-Z]+=\$\(fleet) /);
    },
  );
});

/** Leaf commands whose --json is checked elsewhere (program.test.ts, their own tests). */
const JSON_TESTED = new Set([
  'patch publish',
  'patch list',
  'patch show',
  'patch delete',
  'patch delta',
  'rollout create',
  'rollout status',
  'rollout list',
  'rollout pause',
  'rollout resume',
  'rollout advance',
  'rollout cancel',
  'rollout watch',
  'events',
  'devices list',
  'devices show',
  'devices import',
  'device show',
  'device provision',
  'device rotate',
  'device revoke',
  'stats',
  'token create',
  'token list',
  'token revoke',
  'enroll-token create',
  'enroll-token list',
  'enroll-token revoke',
  'audit',
  'check ids',
  'keys generate',
  'config set-context',
  'config use-context',
  'config get-contexts',
  'config current-context',
  'config delete-context',
  'completion',
  'webhook create',
  'webhook list',
  'webhook show',
  'webhook deliveries',
  'webhook test',
  'webhook delete',
  'webhook enable',
]);

describe('--json everywhere', () => {
  it('every command that does something has its --json tested', () => {
    const leaves = allCommands(program)
      .filter((command) => command.commands.length === 0)
      .map((command) => commandPath(command).slice(1).join(' '));
    expect(leaves.filter((leaf) => !JSON_TESTED.has(leaf))).toEqual([]);
  });

  it('completion --json is one document holding the script', async () => {
    const result = await run(['completion', 'bash', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject({
      shell: 'bash',
      script: expect.stringMatching(/complete -o default/),
    });
  });
});

describe('tables fitted to the terminal', () => {
  const long = `site=${'x'.repeat(200)}`;
  const routes = {
    'devices.list': () => ({
      devices: [deviceFixture('cam-1', { labels: { site: 'x'.repeat(200) } })],
      nextCursor: null,
    }),
  };

  it('cuts long cells to the terminal width on a TTY, and prints them in full when piped', async () => {
    const tty = await run(['devices', 'list'], { routes, tty: true });
    for (const line of tty.stdout.trimEnd().split('\n'))
      expect(stripAnsi(line).length).toBeLessThanOrEqual(120);
    expect(stripAnsi(tty.stdout)).toMatch(/site=x+…\n/);
    const piped = await run(['devices', 'list'], { routes });
    expect(piped.stdout).toContain(long);
    expect(piped.stdout).not.toContain('…');
  });

  it('fitWidths shrinks the widest column first, never below its header', () => {
    expect(fitWidths(['A', 'BB'], [['x'.repeat(10), 'y'.repeat(30)]], 25)).toEqual([10, 12]);
    expect(fitWidths(['NAME', 'DESCRIPTION'], [['x'.repeat(50), 'y'.repeat(50)]], 10)).toEqual([50, 11]);
    expect(fitWidths(['ID', 'A', 'B'], [['i'.repeat(20), 'a'.repeat(40), 'b'.repeat(10)]], 50)).toEqual([
      20, 14, 10,
    ]);
    expect(fitWidths(['A'], [['abc']], 80)).toEqual([3]);
  });

  it('truncateAnsi keeps colours and resets them after the cut', () => {
    const c = picocolors.createColors(true);
    const cut = truncateAnsi(c.green('succeeded'), 5);
    expect(stripAnsi(cut)).toBe('succ…');
    expect(cut.endsWith('\u001b[0m')).toBe(true);
    expect(truncateAnsi('short', 10)).toBe('short');
    const fitted = table(['K', 'V'], [['a', 'v'.repeat(100)]], picocolors.createColors(false), [], 20);
    expect(fitted.split('\n').map((line) => line.length)).toEqual([5, 20]);
  });
});

describe('colours', () => {
  const routes = { 'rollout.get': () => rolloutFixture({ succeeded: 1 }) };

  it('are used on a terminal, never with NO_COLOR, TERM=dumb or --no-color', async () => {
    expect(hasAnsi((await run(['rollout', 'status', 'ro_xyz789'], { routes, tty: true })).stdout)).toBe(true);
    for (const env of [{ NO_COLOR: '1' }, { TERM: 'dumb' }]) {
      const result = await run(['rollout', 'status', 'ro_xyz789'], {
        routes,
        tty: true,
        env: { ...TEST_ENV, ...env },
      });
      expect(hasAnsi(result.stdout), JSON.stringify(env)).toBe(false);
    }
    const flag = await run(['rollout', 'status', 'ro_xyz789', '--no-color'], { routes, tty: true });
    expect(flag.code).toBe(0);
    expect(hasAnsi(flag.stdout)).toBe(false);
    // An empty NO_COLOR does not count (no-color.org).
    const empty = await run(['rollout', 'status', 'ro_xyz789'], {
      routes,
      tty: true,
      env: { ...TEST_ENV, NO_COLOR: '' },
    });
    expect(hasAnsi(empty.stdout)).toBe(true);
  });
});

/**
 * A subscription that pushes `pushes` one by one (an Error is pushed as onError), then aborts the
 * watch; each subscribe starts from where the last one stopped (a resubscribe goes on).
 */
function pushing(pushes: Array<unknown | Error>) {
  const controller = new AbortController();
  let next = 0;
  let subscribes = 0;
  const handler: SubscribeHandler = (_input, observer) => {
    subscribes++;
    let live = true;
    const step = () => {
      if (!live) return;
      if (next >= pushes.length) return controller.abort();
      const push = pushes[next++];
      if (push instanceof Error) return observer.onError?.(push);
      observer.onData?.(push);
      setTimeout(step, 0);
    };
    setTimeout(step, 0);
    return () => {
      live = false;
    };
  };
  return { controller, handler, subscribes: () => subscribes };
}

describe("--watch follows the server's subscriptions", () => {
  const first = [rolloutFixture({ queued: 2 })];
  const second = [rolloutFixture({ queued: 1, succeeded: 1 })];

  it('piped: the list now, then one table per change, separated by a blank line, until Ctrl-C (130)', async () => {
    const { controller, handler } = pushing([first, first, second, second]);
    const result = await run(['rollout', 'list', '--watch', '--interval', '250ms'], {
      routes: { 'rollout.list': () => first },
      subscriptions: { 'rollout.watchList': handler },
      signal: controller.signal,
    });
    expect(result.code).toBe(130);
    expect(result.calls.map((c) => c.path)).toEqual(['rollout.list', 'rollout.watchList']);
    expect(result.calls[1]?.input).toEqual({ limit: 50, intervalMs: 250 });
    expect(hasAnsi(result.stdout)).toBe(false);
    const tables = result.stdout.trimEnd().split('\n\n');
    expect(tables).toHaveLength(2);
    for (const t of tables) expect(t).toMatch(/^ID\s+PATCH\s+STATUS/);
    expect(tables[0]).toMatch(/ro_xyz789 .*\s2\s+0\s+0\s+0\s+2\s/);
    expect(tables[1]).toMatch(/ro_xyz789 .*\s2\s+1\s+0\s+0\s+1\s/);
  });

  it('on a terminal: redraws in place (cursor up, clear) with the cursor hidden, then restores it', async () => {
    const { controller, handler } = pushing([second]);
    const result = await run(['rollout', 'list', '--watch', '--interval', '250ms'], {
      routes: { 'rollout.list': () => first },
      subscriptions: { 'rollout.watchList': handler },
      signal: controller.signal,
      tty: true,
    });
    expect(result.code).toBe(130);
    expect(result.stdout.startsWith('\u001b[?25l')).toBe(true);
    expect(result.stdout).toMatch(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`));
    expect(result.stdout.endsWith('\u001b[?25h')).toBe(true);
    expect(stripAnsi(result.stdout)).toMatch(/Live \(checked every 0\.25s\): fleet rollout list/);
  });

  it('--json: one compact document per change (NDJSON)', async () => {
    const { controller, handler } = pushing([first, second]);
    const result = await run(['rollout', 'list', '--watch', '--interval', '250ms', '--json'], {
      routes: { 'rollout.list': () => first },
      subscriptions: { 'rollout.watchList': handler },
      signal: controller.signal,
    });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([first, second]);
  });

  it('subscribes again when the server cannot be reached; a refused first read ends the watch', async () => {
    const { controller, handler, subscribes } = pushing([networkError('ECONNREFUSED'), second]);
    const retried = await run(['rollout', 'list', '--watch', '--interval', '250ms'], {
      routes: { 'rollout.list': () => first },
      subscriptions: { 'rollout.watchList': handler },
      signal: controller.signal,
    });
    expect(retried.code).toBe(130);
    expect(subscribes()).toBe(2);
    expect(retried.stderr).toMatch(
      /cannot reach the fleet server at http:\/\/fleet\.test:8080 \(ECONNREFUSED\).*retrying/,
    );
    expect(retried.stdout.split('\n\n')).toHaveLength(2);

    const denied = await run(['rollout', 'list', '--watch', '--interval', '250ms'], {
      routes: {
        'rollout.list': () => {
          throw serverError('UNAUTHORIZED', 'UNAUTHORIZED', 'credentials refused', 401);
        },
      },
    });
    expect(denied.code).toBe(5);
    expect(denied.calls.map((c) => c.path)).toEqual(['rollout.list']);
  });

  it('devices list --watch reads the list again only when the fleet figures change', async () => {
    const { controller, handler } = pushing([{ online: 1 }, { online: 2 }]);
    let reads = 0;
    const result = await run(['devices', 'list', '--watch', '--interval', '250ms'], {
      routes: {
        'devices.list': () => {
          reads++;
          return { devices: [deviceFixture(`cam-${Math.min(reads, 2)}`)], nextCursor: null };
        },
      },
      subscriptions: { 'fleet.watch': handler },
      signal: controller.signal,
    });
    expect(result.code).toBe(130);
    // The list now, then once per push of the figures.
    expect(result.calls.filter((c) => c.path === 'devices.list')).toHaveLength(3);
    expect(result.stdout).toMatch(/^ID\s+MODEL[^\n]*\ncam-1 [^\n]*\n\nID\s+MODEL[^\n]*\ncam-2 /);
  });

  it('rollout status --watch shows the rollout again on each change', async () => {
    const { controller, handler } = pushing([rolloutFixture({ queued: 1, succeeded: 1 })]);
    const result = await run(['rollout', 'status', 'ro_xyz789', '--watch', '--interval', '250ms', '--json'], {
      routes: { 'rollout.get': () => rolloutFixture({ queued: 2 }) },
      subscriptions: { 'rollout.watch': handler },
      signal: controller.signal,
    });
    expect(result.code).toBe(130);
    expect(result.calls[1]).toEqual({
      path: 'rollout.watch',
      input: { rolloutId: 'ro_xyz789', intervalMs: 250 },
    });
    const documents = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as RolloutStatus);
    expect(documents.map((d) => d.counts.succeeded)).toEqual([0, 1]);
  });

  it('refuses a silly --interval (exit 2)', async () => {
    const result = await run(['rollout', 'list', '--watch', '--interval', '10ms']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--interval must be between 250ms and 1m/);
  });
});
