import { describe, expect, it } from 'vitest';
import { hasAnsi, run, serverError } from '../../test-helpers.js';
import { history } from './test-fixtures.js';

const ID = 'ro_xyz789';

describe('events', () => {
  const routes = { 'events.list': () => history };

  it('prints the newest 50 as an aligned table, oldest first', async () => {
    const result = await run(['events'], { routes });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.calls).toEqual([{ path: 'events.list', input: { limit: 50 } }]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      'TIME                   ROLLOUT     DEVICE   EVENT                 ATTEMPT   DETAIL',
      '2025-03-01 11:59:00Z   ro_xyz789   -        created                     -   by alice',
      '2025-03-01 11:59:30Z   ro_xyz789   cam-1    → queued                    0   -',
      '2025-03-01 11:59:30Z   ro_xyz789   cam-1    queued → offered            1   -',
      '2025-03-01 11:59:31Z   ro_xyz789   cam-22   installing → failed         3   checksum mismatch',
      '2025-03-01 11:59:32Z   ro_xyz789   -        paused                      -   by bob: maintenance window',
    ]);
  });

  it('sends --rollout and --limit', async () => {
    const result = await run(['events', '--rollout', ID, '--limit', '1000'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'events.list', input: { rolloutId: ID, limit: 1000 } }]);
  });

  it('with --json prints one JSON array: the events as the server sent them', async () => {
    const result = await run(['events', '--json'], { routes, tty: true, stderrTTY: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(hasAnsi(result.stdout)).toBe(false);
    expect(JSON.parse(result.stdout)).toEqual(history);
  });

  it('says so on stderr when there are no events', async () => {
    const result = await run(['events', '--rollout', ID], { routes: { 'events.list': () => [] } });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`no events for rollout ${ID}\n`);
    const json = await run(['events', '--json'], { routes: { 'events.list': () => [] } });
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(json.stderr).toBe('');
  });

  it('maps a failed list to its exit code', async () => {
    const fail = () => {
      throw serverError('FORBIDDEN', 'FORBIDDEN', 'role viewer required', 403);
    };
    const result = await run(['events'], { routes: { 'events.list': fail } });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
  });

  it.each([
    [['--rollout', 'nope'], /^error: invalid --rollout 'nope': a rollout id looks like ro_…\n$/],
    [['--rollout', 'ro_UPPER'], /invalid --rollout 'ro_UPPER'/],
    [['--limit', '0'], /^error: invalid value for --limit: '0' \(a whole number from 1 to 1000\)\n$/],
    [['--limit', '1001'], /--limit: '1001'/],
    [['--limit', 'ten'], /--limit: 'ten'/],
    [['--limit', '-5'], /--limit/],
    [['--follow', '--limit', '5000'], /--limit: '5000'/],
    [['--follow', '--rollout', 'ro-x'], /invalid --rollout 'ro-x'/],
    [['--rollout'], /argument missing/],
  ])('%j: exit 2, nothing sent', async (flags, message) => {
    const result = await run(['events', ...flags], { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
    expect(result.calls).toEqual([]);
  });

  it('refuses bad flags before looking for a server', async () => {
    const result = await run(['events', '--limit', '0'], { env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--limit/);
  });
});
