import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { tokensTable } from './present.js';

export function registerListCommand(token: Command, io: FleetIO): void {
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
}
