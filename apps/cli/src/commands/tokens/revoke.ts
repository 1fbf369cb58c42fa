import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { tokenIdArg } from '../../validate.js';

export function registerRevokeCommand(token: Command, io: FleetIO): void {
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
