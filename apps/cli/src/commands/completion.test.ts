import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCommands, commandPath } from '../help.js';
import { buildProgram } from '../program.js';
import { captured, run } from '../test-helpers.js';
import { completionTree } from './completion.js';

const program = buildProgram({ stdout: captured(), stderr: captured(), env: {} });
let dir = '';
let bashScript = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-completion-'));
  const result = await run(['completion', 'bash'], { env: {} });
  expect(result.code).toBe(0);
  bashScript = join(dir, 'fleet.bash');
  writeFileSync(bashScript, result.stdout);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What bash completes for a command line (a trailing space means "a new, empty word"). */
function complete(line: string): string[] {
  const script = `
source "$1"
read -ra COMP_WORDS <<<"$2"
[[ "$2" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
COMP_LINE="$2"
_fleet_completion
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['-c', script, 'bash', bashScript, line], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.split('\n').filter((word) => word !== '');
}

describe('fleet completion bash', () => {
  it('is valid bash that registers a completion function for fleet', () => {
    const result = spawnSync('bash', ['-c', 'source "$1" && complete -p fleet', 'bash', bashScript], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('complete -o default -F _fleet_completion fleet\n');
  });

  it.each([
    ['fleet rol', ['rollout']],
    ['fleet rollout ', ['create', 'status', 'list', 'pause', 'resume', 'advance', 'cancel', 'watch']],
    ['fleet rollouts wa', ['watch']],
    ['fleet config ', ['set-context', 'use-context', 'get-contexts', 'current-context', 'delete-context']],
    ['fleet completion ', ['bash', 'zsh']],
    ['fleet completion bash ', []],
    ['fleet rollout create --adv', ['--advance']],
    ['fleet rollout create --advance ', ['auto', 'manual']],
    ['fleet token create --role ', ['viewer', 'operator', 'admin']],
    ['fleet --context lab devices list --w', ['--watch']],
    [
      'fleet --url http://x:1 rollout list --',
      ['--url', '--token', '--context', '--json', '--no-color', '--limit', '--watch', '--interval', '--help'],
    ],
    ['fleet rollout status ro_1 --j', ['--json']],
    ['fleet devices list --limit 5 --onl', ['--online']],
  ])('%j completes to %j', (line, expected) => {
    expect(complete(line)).toEqual(expected);
  });

  it('knows every command of the tree', () => {
    const tree = completionTree(program);
    const paths = new Set(tree.nodes.map((node) => node.path));
    for (const command of allCommands(program)) {
      expect(paths).toContain(commandPath(command).slice(1).join(' '));
    }
    for (const command of program.commands) {
      expect(complete(`fleet ${command.name()}`)).toContain(command.name());
    }
  });
});

describe('fleet completion zsh', () => {
  it('defines _fleet from the same tree and registers it with compdef', async () => {
    const result = await run(['completion', 'zsh'], { env: {} });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^#compdef fleet\n/);
    expect(result.stdout).toMatch(/\n {2}compdef _fleet fleet\n/);
    expect(result.stdout).toContain(`'rollout:create, follow, pause, resume, advance and cancel rollouts'`);
    expect(result.stdout).toContain(`"rollout/watch"|`.replace('|', ''));
    expect(result.stdout).toContain(`'--advance:open the next wave`);
    expect(result.stdout).toContain('--advance) compadd -- auto manual ;;');
    // Single quotes in descriptions are escaped for zsh.
    expect(result.stdout).not.toMatch(/'[^'\n]*device's[^'\n]*'/);
  });

  it('refuses another shell (exit 2)', async () => {
    const result = await run(['completion', 'fish'], { env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Allowed choices are bash, zsh/);
  });
});
