import type { IssuedEnrollToken } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { enrollFixture, type Handler, NOW, run, serverError } from '../../test-helpers.js';

const DAY = 86_400_000;
const ENROLL = 'cfe_ba9876543210_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

/** Echoes the request the way the server would answer it. */
const routes: Record<string, Handler> = {
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
