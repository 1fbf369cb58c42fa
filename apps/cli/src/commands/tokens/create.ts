import { ADMIN_ROLES, CreateTokenInput } from '@camfleet/contracts';
import { type Command, Option } from 'commander';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { check, expiryOption } from '../../validate.js';
import { EXPIRES_HELP, flagOf, NAME_HELP, yyyymmdd } from './flags.js';
import { expiresNote } from './present.js';

type AdminRole = (typeof ADMIN_ROLES)[number];

const ROLES_HELP = `Roles: viewer reads (devices, patches, rollouts, events, stats); operator also publishes
patches and creates and controls rollouts; admin also manages device credentials, tokens
and reads the audit log.`;

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

export function registerCreateCommand(token: Command, io: FleetIO): void {
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
}
