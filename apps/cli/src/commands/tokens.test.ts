import type { EnrollTokenInfo, IssuedEnrollToken, IssuedToken, TokenInfo } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { type Handler, NOW, run, serverError } from '../test-helpers.js';
import { tokenStatus, yyyymmdd } from './tokens.js';

const DAY = 86_400_000;
const TOKEN = 'cft_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const ENROLL = 'cfe_ba9876543210_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

function tokenFixture(overrides: Partial<TokenInfo> = {}): TokenInfo {
  return {
    id: '0123456789ab',
    name: 'dashboards',
    role: 'viewer',
    createdAt: NOW - 60_000,
    createdBy: 'admin',
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

function enrollFixture(overrides: Partial<EnrollTokenInfo> = {}): EnrollTokenInfo {
  return {
    id: 'ba9876543210',
    name: 'site-berlin',
    usesLeft: 50,
    createdAt: NOW - 60_000,
    createdBy: 'admin',
    expiresAt: NOW + 7 * DAY,
    revokedAt: null,
    ...overrides,
  };
}

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
  'enrollTokens.create': (input) => {
    const { name, uses, expiresInMs } = input as {
      name: string;
      uses: number | null;
      expiresInMs: number | null;
    };
    const issued: IssuedEnrollToken = {
      ...enrollFixture({
        name,
        usesLeft: uses,
        createdAt: NOW,
        expiresAt: expiresInMs === null ? null : NOW + expiresInMs,
      }),
      token: ENROLL,
    };
    return issued;
  },
  'enrollTokens.list': () => [
    enrollFixture(),
    enrollFixture({ id: 'cccccccccccc', name: 'lab', usesLeft: null, expiresAt: null }),
    enrollFixture({ id: 'dddddddddddd', name: 'spent', usesLeft: 0 }),
    enrollFixture({ id: 'eeeeeeeeeeee', name: 'late', expiresAt: NOW - DAY }),
  ],
  'enrollTokens.revoke': (input) => enrollFixture({ id: (input as { id: string }).id, revokedAt: NOW }),
};

const forbidden = serverError('FORBIDDEN', null, 'role admin required, token has operator', 403);
const refuse: Handler = () => {
  throw forbidden;
};

describe('tokenStatus', () => {
  it('revoked wins over expired, expired over used up', () => {
    expect(tokenStatus({ expiresAt: null, revokedAt: null }, NOW)).toBe('active');
    expect(tokenStatus({ expiresAt: NOW + 1, revokedAt: null }, NOW)).toBe('active');
    expect(tokenStatus({ expiresAt: NOW, revokedAt: null }, NOW)).toBe('expired');
    expect(tokenStatus({ expiresAt: NOW - 1, revokedAt: NOW - 5 }, NOW)).toBe('revoked');
    expect(tokenStatus({ expiresAt: null, revokedAt: null, usesLeft: 0 }, NOW)).toBe('used up');
    expect(tokenStatus({ expiresAt: NOW - 1, revokedAt: null, usesLeft: 0 }, NOW)).toBe('expired');
    expect(tokenStatus({ expiresAt: null, revokedAt: null, usesLeft: null }, NOW)).toBe('active');
  });

  it('names tokens by the UTC date', () => {
    expect(yyyymmdd(NOW)).toBe('20250301');
    expect(yyyymmdd(Date.UTC(2025, 11, 31, 23, 59, 59))).toBe('20251231');
  });
});

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

describe('enroll-token create', () => {
  it('sends a default name enroll-<yyyymmdd>, unlimited uses and no expiry', async () => {
    const result = await run(['enroll-token', 'create'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      { path: 'enrollTokens.create', input: { name: 'enroll-20250301', uses: null, expiresInMs: null } },
    ]);
  });

  it('sends --name, --uses and --expires', async () => {
    const result = await run(
      ['enroll-token', 'create', '--name', 'site-berlin', '--uses', '50', '--expires', '7d'],
      { routes },
    );
    expect(result.calls[0]?.input).toEqual({ name: 'site-berlin', uses: 50, expiresInMs: 7 * DAY });
    expect(result.stdout).toBe(`enroll token for site-berlin: ${ENROLL}\n`);
    expect(result.stderr).toMatch(/enrollment token ba9876543210, 50 uses, expires 2025-03-08 12:00:00Z/);
    expect(result.stderr).toMatch(/shown only once/);
  });

  it('--json prints the issued token', async () => {
    const result = await run(['enroll-token', 'create', '--uses', '1', '--json'], { routes });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      ...enrollFixture({ name: 'enroll-20250301', usesLeft: 1, createdAt: NOW, expiresAt: null }),
      token: ENROLL,
    });
  });

  it.each([
    [
      ['enroll-token', 'create', '--uses', '0'],
      /invalid value for --uses: '0' \(a whole number from 1 to 10000000\)/,
    ],
    [['enroll-token', 'create', '--uses', 'many'], /--uses/],
    [['enroll-token', 'create', '--uses', '10000001'], /--uses/],
    [['enroll-token', 'create', '--uses', '1.5'], /--uses/],
    [['enroll-token', 'create', '--expires', '7 days'], /invalid duration for --expires/],
    [['enroll-token', 'create', '--expires', '59s'], /invalid value for --expires/],
    [['enroll-token', 'create', '--name', '-x'], /invalid enrollment token: --name/],
    [['enroll-token', 'revoke', 'x'.repeat(41)], /invalid token id/],
  ])('%j: exit 2, nothing sent', async (argv, message) => {
    const result = await run(argv, { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.connects).toEqual([]);
  });
});

describe('enroll-token list', () => {
  it('is a table with the uses left and each token status', async () => {
    const result = await run(['enroll-token', 'list'], { routes });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+USES LEFT\s+CREATED\s+BY\s+EXPIRES\s+STATUS$/);
    expect(lines[1]).toMatch(/^ba9876543210\s+site-berlin\s+50\s+.*\s+2025-03-08 12:00:00Z\s+active$/);
    expect(lines[2]).toMatch(/^cccccccccccc\s+lab\s+unlimited\s+.*\s+never\s+active$/);
    expect(lines[3]).toMatch(/^dddddddddddd\s+spent\s+0\s+.*\s+used up$/);
    expect(lines[4]).toMatch(/^eeeeeeeeeeee\s+late\s+50\s+.*\s+expired$/);
  });

  it('--json prints the list', async () => {
    const result = await run(['enroll-tokens', 'list', '--json'], { routes });
    expect(JSON.parse(result.stdout)).toEqual(routes['enrollTokens.list']?.(undefined));
  });

  it('says so on stderr when none was issued', async () => {
    const result = await run(['enroll-token', 'list'], { routes: { 'enrollTokens.list': () => [] } });
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no enrollment tokens issued yet/);
  });
});

describe('enroll-token revoke', () => {
  it('sends the id and says which token it revoked', async () => {
    const result = await run(['enroll-token', 'revoke', 'ba9876543210'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'enrollTokens.revoke', input: { id: 'ba9876543210' } }]);
    expect(result.stdout).toBe('revoked enrollment token ba9876543210 (site-berlin)\n');
    const json = await run(['enroll-token', 'revoke', 'ba9876543210', '--json'], { routes });
    expect(JSON.parse(json.stdout)).toEqual(enrollFixture({ revokedAt: NOW }));
  });
});

describe('below the admin role', () => {
  it.each([
    ['tokens.create', ['token', 'create', '--role', 'viewer']],
    ['tokens.list', ['token', 'list']],
    ['tokens.revoke', ['token', 'revoke', '0123456789ab']],
    ['enrollTokens.create', ['enroll-token', 'create']],
    ['enrollTokens.list', ['enroll-token', 'list']],
    ['enrollTokens.revoke', ['enroll-token', 'revoke', 'ba9876543210']],
  ])('%s: FORBIDDEN → exit 5', async (path, argv) => {
    const result = await run(argv, { routes: { [path]: refuse } });
    expect(result.code).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: access denied: role admin required, token has operator/);
  });
});
