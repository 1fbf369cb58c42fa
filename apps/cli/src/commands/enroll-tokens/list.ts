import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { enrollTokensTable } from './present.js';

export function registerListCommand(enroll: Command, io: FleetIO): void {
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
}
