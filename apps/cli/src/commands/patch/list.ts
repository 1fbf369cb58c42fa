import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { intOption } from '../../validate.js';
import { patchesTable } from './present.js';

export function registerListCommand(patch: Command, io: FleetIO): void {
  withExamples(patch.command('list'), [
    'fleet patch list --limit 20',
    "fleet patch list --json | jq -r '.[].id'",
  ])
    .alias('ls')
    .description('list patches, newest first')
    .option('--limit <n>', 'at most this many (1-500)', '100')
    .action(async (options: { limit: string }, command: Command) => {
      const s = Session.of(io, command);
      const limit = intOption('--limit', options.limit, 1, 500);
      const patches = await s.withClient((client) => client.patch.list.query({ limit }));
      s.output(patches, () => {
        if (patches.length === 0) {
          s.note('no patches published yet');
          return null;
        }
        return patchesTable(patches, s);
      });
    });
}
