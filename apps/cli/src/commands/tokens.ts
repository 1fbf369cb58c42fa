import {
  ADMIN_ROLES,
  CreateEnrollTokenInput,
  CreateTokenInput,
  type EnrollTokenInfo,
  type TokenInfo,
} from '@camfleet/contracts';
import { type Command, Option } from 'commander';
import type { Colors } from '../colors.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { formatTimestamp, formatWhen } from '../time.js';
import { check, expiryOption, intOption, tokenIdArg } from '../validate.js';

type AdminRole = (typeof ADMIN_ROLES)[number];

export type TokenStatus = 'active' | 'expired' | 'revoked' | 'used up';

/** Revoked wins over expired, expired over used up. */
export function tokenStatus(
  token: Pick<TokenInfo, 'expiresAt' | 'revokedAt'> & { usesLeft?: number | null },
  now: number,
): TokenStatus {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  if (token.usesLeft === 0) return 'used up';
  return 'active';
}

function colorStatus(status: TokenStatus, c: Colors): string {
  switch (status) {
    case 'active':
      return c.green(status);
    case 'revoked':
      return c.red(status);
    default:
      return c.gray(status);
  }
}

/** `20250301`: today (UTC), for default token names. */
export function yyyymmdd(ms: number): string {
  return formatTimestamp(ms).slice(0, 10).replaceAll('-', '');
}

function expiresText(expiresAt: number | null): string {
  return expiresAt === null ? 'never' : formatTimestamp(expiresAt);
}

function expiresNote(expiresAt: number | null): string {
  return expiresAt === null ? 'never expires' : `expires ${formatTimestamp(expiresAt)}`;
}

const NAME_HELP = 'letters, digits and . _ @ -';
const EXPIRES_HELP = 'lifetime, e.g. 90m, 12h, 30d (from 1m to 1095d; default never)';
const ROLES_HELP = `Roles: viewer reads (devices, patches, rollouts, events, stats); operator also publishes
patches and creates and controls rollouts; admin also manages device credentials, tokens
and reads the audit log.`;

/** Names a request's flags for schema messages. */
const flagOf = (path: ReadonlyArray<PropertyKey>): string | null => {
  switch (path[0]) {
    case 'name':
      return '--name';
    case 'expiresInMs':
      return '--expires';
    case 'uses':
      return '--uses';
    default:
      return path.length > 0 ? path.map(String).join('.') : null;
  }
};

interface TokenCreateFlags {
  role: AdminRole;
  name?: string;
  expires?: string;
}

export function createTokenInput(flags: TokenCreateFlags, now: number): CreateTokenInput {
  const input: CreateTokenInput = {
    name: flags.name ?? `${flags.role}-${yyyymmdd(now)}`,
    role: flags.role,
    expiresInMs: expiryOption('--expires', flags.expires),
  };
  check('token', CreateTokenInput, input, flagOf);
  return input;
}

interface EnrollCreateFlags {
  name?: string;
  uses?: string;
  expires?: string;
}

export function createEnrollTokenInput(flags: EnrollCreateFlags, now: number): CreateEnrollTokenInput {
  const input: CreateEnrollTokenInput = {
    name: flags.name ?? `enroll-${yyyymmdd(now)}`,
    uses: intOption('--uses', flags.uses, 1, 10_000_000) ?? null,
    expiresInMs: expiryOption('--expires', flags.expires),
  };
  check('enrollment token', CreateEnrollTokenInput, input, flagOf);
  return input;
}

export function tokensTable(tokens: readonly TokenInfo[], s: Session): string {
  const now = s.now();
  return s.table(
    ['ID', 'NAME', 'ROLE', 'CREATED', 'BY', 'EXPIRES', 'STATUS'],
    tokens.map((t) => [
      t.id,
      t.name,
      t.role,
      formatWhen(t.createdAt, now),
      t.createdBy,
      expiresText(t.expiresAt),
      colorStatus(tokenStatus(t, now), s.c),
    ]),
  );
}

export function enrollTokensTable(tokens: readonly EnrollTokenInfo[], s: Session): string {
  const now = s.now();
  return s.table(
    ['ID', 'NAME', 'USES LEFT', 'CREATED', 'BY', 'EXPIRES', 'STATUS'],
    tokens.map((t) => [
      t.id,
      t.name,
      t.usesLeft ?? 'unlimited',
      formatWhen(t.createdAt, now),
      t.createdBy,
      expiresText(t.expiresAt),
      colorStatus(tokenStatus(t, now), s.c),
    ]),
    ['left', 'left', 'right'],
  );
}

function registerTokenCommands(program: Command, io: FleetIO): void {
  const token = program
    .command('token')
    .alias('tokens')
    .description('issue, list and revoke admin tokens (admin role)');
  withExamples(token, [
    'fleet token create --role viewer --name dashboards --expires 90d',
    'fleet token list',
    'fleet token revoke 0123456789ab',
  ]);

  token
    .command('create')
    .description('issue an admin token; prints it (shown once)')
    .addOption(
      new Option('--role <role>', 'what the token may do').choices(ADMIN_ROLES).makeOptionMandatory(),
    )
    .option(
      '--name <name>',
      `a name for it, shown in audit entries (${NAME_HELP}; default <role>-<yyyymmdd>)`,
    )
    .option('--expires <duration>', EXPIRES_HELP)
    .addHelpText(
      'after',
      `\n${ROLES_HELP}\n\nExamples:\n  fleet token create --role viewer --name dashboards --expires 90d`,
    )
    .action(async (flags: TokenCreateFlags, command: Command) => {
      const s = Session.of(io, command);
      const input = createTokenInput(flags, s.now());
      const issued = await s.withClient((client) => client.tokens.create.mutate(input));
      s.output(issued, () => `token for ${issued.name}: ${issued.token}`);
      s.note(`${issued.role} token ${issued.id}, ${expiresNote(issued.expiresAt)}`);
      s.note(
        `the token is shown only once: it is stored hashed and cannot be read back (fleet token revoke ${issued.id} withdraws it)`,
      );
    });

  withExamples(token.command('list'), [
    'fleet token list',
    "fleet token list --json | jq -r '.[] | select(.revokedAt == null) | .name'",
  ])
    .alias('ls')
    .description('list the admin tokens issued with `token create` (not the ones configured on the server)')
    .action(async (_flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const tokens = await s.withClient((client) => client.tokens.list.query());
      s.output(tokens, () => {
        if (tokens.length === 0) {
          s.note('no tokens issued yet');
          return null;
        }
        return tokensTable(tokens, s);
      });
    });

  withExamples(token.command('revoke'), ['fleet token revoke 0123456789ab   # the id from fleet token list'])
    .description('revoke an admin token: it is refused from now on')
    .argument('<id>', 'token id (as token list shows it)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const tokenId = tokenIdArg(id);
      const revoked = await s.withClient((client) => client.tokens.revoke.mutate({ id: tokenId }));
      s.output(revoked, () => `revoked token ${revoked.id} (${revoked.name}, ${revoked.role})`);
    });
}

function registerEnrollTokenCommands(program: Command, io: FleetIO): void {
  const enroll = program
    .command('enroll-token')
    .alias('enroll-tokens')
    .description('issue, list and revoke enrollment tokens, which devices trade for a secret (admin role)');
  withExamples(enroll, [
    'fleet enroll-token create --name site-berlin --uses 50 --expires 7d',
    'fleet enroll-token list',
    'fleet enroll-token revoke 0123456789ab',
  ]);

  enroll
    .command('create')
    .description('issue an enrollment token; prints it (shown once)')
    .option('--name <name>', `a name for it (${NAME_HELP}; default enroll-<yyyymmdd>)`)
    .option('--uses <n>', 'how many devices may enroll with it (1-10000000; default unlimited)')
    .option('--expires <duration>', EXPIRES_HELP)
    .addHelpText(
      'after',
      '\nA device presents it once to obtain its own secret (device simulator: --enroll-token).\n\nExamples:\n  fleet enroll-token create --name site-berlin --uses 50 --expires 7d',
    )
    .action(async (flags: EnrollCreateFlags, command: Command) => {
      const s = Session.of(io, command);
      const input = createEnrollTokenInput(flags, s.now());
      const issued = await s.withClient((client) => client.enrollTokens.create.mutate(input));
      s.output(issued, () => `enroll token for ${issued.name}: ${issued.token}`);
      const uses = issued.usesLeft === null ? 'unlimited uses' : `${issued.usesLeft} uses`;
      s.note(`enrollment token ${issued.id}, ${uses}, ${expiresNote(issued.expiresAt)}`);
      s.note(
        `the token is shown only once: it is stored hashed and cannot be read back (fleet enroll-token revoke ${issued.id} withdraws it)`,
      );
    });

  withExamples(enroll.command('list'), ['fleet enroll-token list', 'fleet enroll-token list --json'])
    .alias('ls')
    .description('list the enrollment tokens issued with `enroll-token create`')
    .action(async (_flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const tokens = await s.withClient((client) => client.enrollTokens.list.query());
      s.output(tokens, () => {
        if (tokens.length === 0) {
          s.note('no enrollment tokens issued yet');
          return null;
        }
        return enrollTokensTable(tokens, s);
      });
    });

  withExamples(enroll.command('revoke'), [
    'fleet enroll-token revoke 0123456789ab   # the id from fleet enroll-token list',
  ])
    .description('revoke an enrollment token: no device can enroll with it any more')
    .argument('<id>', 'token id (as enroll-token list shows it)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const tokenId = tokenIdArg(id);
      const revoked = await s.withClient((client) => client.enrollTokens.revoke.mutate({ id: tokenId }));
      s.output(revoked, () => `revoked enrollment token ${revoked.id} (${revoked.name})`);
    });
}

export function registerAccessTokenCommands(program: Command, io: FleetIO): void {
  registerTokenCommands(program, io);
  registerEnrollTokenCommands(program, io);
}
