import type { AuditEntry } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { colorsFor } from '../colors.js';
import { captured, type Handler, hasAnsi, NOW, run, serverError } from '../test-helpers.js';
import { auditResult, auditRow } from './audit.js';

const plain = colorsFor(captured(false), {});

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id: `${NOW - 60_000}-0`,
    at: NOW - 60_000,
    actor: 'admin',
    role: 'admin',
    action: 'devices.credentials.revoke',
    input: '{"deviceId":"cam-42"}',
    ok: true,
    error: null,
    ...overrides,
  };
}

const entries = [
  entry(),
  entry({
    id: `${NOW - 30_000}-0`,
    at: NOW - 30_000,
    actor: 'viewer-20250301',
    role: 'viewer',
    action: 'rollout.cancel',
    input: '{"rolloutId":"ro_xyz789"}',
    ok: false,
    error: 'role operator required, token has viewer',
  }),
];

const routes: Record<string, Handler> = { 'audit.list': () => entries };

describe('audit rows', () => {
  it('show the actor with its role, and ok or refused with the error', () => {
    expect(auditRow(entries[0] as AuditEntry, plain)).toEqual([
      '2025-03-01 11:59:00Z',
      'admin (admin)',
      'devices.credentials.revoke',
      'ok',
      '{"deviceId":"cam-42"}',
    ]);
    expect(auditResult(entries[1] as AuditEntry, plain)).toBe(
      'refused: role operator required, token has viewer',
    );
    expect(auditResult(entry({ ok: false, error: null }), plain)).toBe('refused');
    expect(auditRow(entry({ input: 'x'.repeat(100) }), plain)[4]).toHaveLength(60);
  });
});

describe('fleet audit', () => {
  it('asks for the newest 100 by default, and prints a table oldest first', async () => {
    const result = await run(['audit'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'audit.list', input: { limit: 100 } }]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+ACTOR\s+ACTION\s+RESULT\s+INPUT$/);
    expect(lines[1]).toMatch(
      /^2025-03-01 11:59:00Z\s+admin \(admin\)\s+devices\.credentials\.revoke\s+ok\s+\{"deviceId":"cam-42"\}$/,
    );
    expect(lines[2]).toMatch(
      /^2025-03-01 11:59:30Z\s+viewer-20250301 \(viewer\)\s+rollout\.cancel\s+refused: role operator required, token has viewer\s+\{"rolloutId":"ro_xyz789"\}$/,
    );
    expect(hasAnsi(result.stdout)).toBe(false);
  });

  it('sends --limit and --actor', async () => {
    const result = await run(['audit', '--limit', '5', '--actor', 'alice'], { routes });
    expect(result.calls).toEqual([{ path: 'audit.list', input: { limit: 5, actor: 'alice' } }]);
  });

  it('--json prints the entries', async () => {
    const result = await run(['audit', '--json'], { routes, stderrTTY: true });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(entries);
  });

  it('says so on stderr when there is nothing', async () => {
    const result = await run(['audit', '--actor', 'bob'], { routes: { 'audit.list': () => [] } });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no audit entries by bob/);
    const json = await run(['audit', '--json'], { routes: { 'audit.list': () => [] } });
    expect(json.stdout).toBe('[]\n');
    expect(json.stderr).toBe('');
  });

  it('colours refusals on a TTY', async () => {
    const result = await run(['audit'], { routes, tty: true });
    expect(hasAnsi(result.stdout)).toBe(true);
  });

  it.each([
    [['audit', '--limit', '0'], /invalid value for --limit: '0' \(a whole number from 1 to 1000\)/],
    [['audit', '--limit', '1001'], /--limit/],
    [['audit', '--actor', 'x'.repeat(65)], /invalid audit query: --actor: /],
    [['audit', 'extra'], /too many arguments/],
  ])('%j: exit 2, nothing sent', async (argv, message) => {
    const result = await run(argv, { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.connects).toEqual([]);
  });

  it('FORBIDDEN below the admin role → exit 5', async () => {
    const result = await run(['audit', '--json'], {
      routes: {
        'audit.list': () => {
          throw serverError('FORBIDDEN', null, 'role admin required, token has viewer', 403);
        },
      },
    });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: access denied: role admin required, token has viewer/);
  });
});
