import { CreateEnrollTokenInput } from '@camfleet/contracts';
import type { Command } from 'commander';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { check, expiryOption, intOption } from '../../validate.js';
import { EXPIRES_HELP, flagOf, NAME_HELP, yyyymmdd } from '../tokens/flags.js';
import { expiresNote } from '../tokens/present.js';

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

export function registerCreateCommand(enroll: Command, io: FleetIO): void {
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
}
