import type { IssuedToken, TokenInfo } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { type Handler, NOW, run, serverError, tokenFixture } from '../../test-helpers.js';

const DAY = 86_400_000;
const TOKEN = 'cft_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** Echoes the request the way the server would answer it. */
const routes: Record<string, Handler> = {
  'tokens.create': (input) => {
    const { name, role, expiresInMs } = input as {
      name: string;
      role: TokenInfo['role'];
      expiresInMs: number | null;
    };
    const issued: IssuedToken = {
      ...tokenFixture({
        name,
        role,
        createdAt: NOW,
        expiresAt: expiresInMs === null ? null : NOW + expiresInMs,
      }),
      token: TOKEN,
    };
    return issued;
  },
  'tokens.list': () => [
    tokenFixture(),
    tokenFixture({ id: 'aaaaaaaaaaaa', name: 'ci', role: 'operator', expiresAt: NOW - 1000 }),
    tokenFixture({
      id: 'bbbbbbbbbbbb',
      name: 'old',
      role: 'admin',
      expiresAt: NOW + DAY,
      revokedAt: NOW - 5000,
    }),
  ],
  'tokens.revoke': (input) => tokenFixture({ id: (input as { id: string }).id, revokedAt: NOW }),
};

const forbidden = serverError('FORBIDDEN', null, 'role admin required, token has operator', 403);
const refuse: Handler = () => {
  throw forbidden;
};

describe('token create', () => {
  it('sends the role, a default name <role>-<yyyymmdd>, and no expiry', async () => {
    const result = await run(['token', 'create', '--role', 'operator'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      { path: 'tokens.create', input: { name: 'operator-20250301', role: 'operator', expiresInMs: null } },
    ]);
  });

  it.each([
    ['30d', 30 * DAY],
    ['1.5d', 1.5 * DAY],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['1m', 60_000],
    ['1095d', 1095 * DAY],
    ['never', null],
  ])('--expires %s → expiresInMs %s', async (expires, ms) => {
    const result = await run(['token', 'create', '--role', 'viewer', '--name', 'ci', '--expires', expires], {
      routes,
    });
    expect(result.code).toBe(0);
    expect(result.calls[0]?.input).toEqual({ name: 'ci', role: 'viewer', expiresInMs: ms });
  });

  it('prints the token once, with its id, role and expiry on stderr', async () => {
    const result = await run(['token', 'create', '--role', 'viewer', '--name', 'dash', '--expires', '30d'], {
      routes,
    });
    expect(result.stdout).toBe(`token for dash: ${TOKEN}\n`);
    expect(result.stderr).toMatch(/viewer token 0123456789ab, expires 2025-03-31 12:00:00Z/);
    expect(result.stderr).toMatch(/shown only once/);
    expect(result.stderr).toMatch(/fleet token revoke 0123456789ab/);
    expect(result.stderr).not.toContain(TOKEN);
  });

  it('--json prints the issued token, secret included', async () => {
    const result = await run(['token', 'create', '--role', 'admin', '--json'], { routes, stderrTTY: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      ...tokenFixture({ name: 'admin-20250301', role: 'admin', createdAt: NOW }),
      token: TOKEN,
    });
  });

  it.each([
    [['token', 'create'], /required option '--role <role>' not specified/],
    [
      ['token', 'create', '--role', 'root'],
      /argument 'root' is invalid. Allowed choices are viewer, operator, admin/,
    ],
    [['token', 'create', '--role', 'viewer', '--expires', 'soon'], /invalid duration for --expires: 'soon'/],
    [
      ['token', 'create', '--role', 'viewer', '--expires', '30s'],
      /invalid value for --expires: '30s' \(from 1m/,
    ],
    [['token', 'create', '--role', 'viewer', '--expires', '1096d'], /invalid value for --expires: '1096d'/],
    [['token', 'create', '--role', 'viewer', '--expires', '-1d'], /invalid duration for --expires/],
    [
      ['token', 'create', '--role', 'viewer', '--name', 'has space'],
      /invalid token: --name: letters, digits/,
    ],
    [['token', 'create', '--role', 'viewer', '--name', ''], /invalid token: --name/],
    [['token', 'create', '--role', 'viewer', '--name', 'x'.repeat(65)], /--name/],
    [['token', 'revoke', 'NOT-AN-ID'], /invalid token id 'NOT-AN-ID': a token id/],
    [['token', 'revoke'], /missing required argument/],
  ])('%j: exit 2, nothing sent', async (argv, message) => {
    const result = await run(argv, { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(result.connects).toEqual([]);
  });
});

describe('token list', () => {
  it('is a table with each token status', async () => {
    const result = await run(['token', 'list'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'tokens.list', input: undefined }]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+ROLE\s+CREATED\s+BY\s+EXPIRES\s+STATUS$/);
    expect(lines[1]).toMatch(
      /^0123456789ab\s+dashboards\s+viewer\s+2025-03-01 11:59:00Z \(1m ago\)\s+admin\s+never\s+active$/,
    );
    expect(lines[2]).toMatch(/^aaaaaaaaaaaa\s+ci\s+operator\s+.*\s+2025-03-01 11:59:59Z\s+expired$/);
    expect(lines[3]).toMatch(/^bbbbbbbbbbbb\s+old\s+admin\s+.*\s+2025-03-02 12:00:00Z\s+revoked$/);
  });

  it('--json prints the TokenInfo list', async () => {
    const result = await run(['tokens', 'ls', '--json'], { routes });
    expect(JSON.parse(result.stdout)).toEqual(routes['tokens.list']?.(undefined));
    expect(result.stderr).toBe('');
  });

  it('says so on stderr when no token was issued', async () => {
    const result = await run(['token', 'list'], { routes: { 'tokens.list': () => [] } });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no tokens issued yet/);
  });
});

describe('token revoke', () => {
  it('sends the id and says which token it revoked', async () => {
    const result = await run(['token', 'revoke', '0123456789ab'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'tokens.revoke', input: { id: '0123456789ab' } }]);
    expect(result.stdout).toBe('revoked token 0123456789ab (dashboards, viewer)\n');
  });

  it('--json prints the TokenInfo', async () => {
    const result = await run(['token', 'revoke', '0123456789ab', '--json'], { routes });
    expect(JSON.parse(result.stdout)).toEqual(tokenFixture({ revokedAt: NOW }));
  });

  it('exits 4 for an unknown token', async () => {
    const result = await run(['token', 'revoke', 'ffffffffffff'], {
      routes: {
        'tokens.revoke': () => {
          throw serverError('NOT_FOUND', 'NOT_FOUND', 'token: no such token', 404);
        },
      },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(
      'error: not found: token: no such token (fleet token list shows what exists)\n',
    );
  });
});

describe('below the admin role', () => {
  it.each([
    ['tokens.create', ['token', 'create', '--role', 'viewer']],
    ['tokens.list', ['token', 'list']],
    ['tokens.revoke', ['token', 'revoke', '0123456789ab']],
  ])('%s: FORBIDDEN → exit 5', async (path, argv) => {
    const result = await run(argv, { routes: { [path]: refuse } });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: access denied: role admin required, token has operator/);
  });
});
