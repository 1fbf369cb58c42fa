import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { tokenIdArg } from '../../validate.js';

export function registerRevokeCommand(enroll: Command, io: FleetIO): void {
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
