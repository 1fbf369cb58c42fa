import type { Command } from 'commander';
import { CliError, EXIT } from '../../errors.js';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { intOption } from '../../validate.js';
import { idCheckSummary, idCheckTable } from './present.js';

interface IdsFlags {
  limit: string;
}

export function registerIdsCommand(check: Command, io: FleetIO): void {
  withExamples(check.command('ids'), [
    'fleet check ids',
    'fleet check ids --limit 50',
    "fleet check ids --json | jq -r '.bad[].deviceId'",
  ])
    .description(
      'list stored device ids that break the id rule (letters, digits and . _ -, starting with a letter or digit; no ":"): ' +
        'kept by older versions, they cannot download artifacts. Exit 1 when any is found, 0 when none',
    )
    .option('--limit <n>', 'list at most this many bad ids (1-10000; all are counted)', '1000')
    .action(async (flags: IdsFlags, command: Command) => {
      const s = Session.of(io, command);
      const limit = intOption('--limit', flags.limit, 1, 10_000) ?? 1000;
      const result = await s.withClient((client) => client.devices.checkIds.query({ limit }));
      s.output(result, () => (result.bad.length === 0 ? null : idCheckTable(result, s)));
      s.note(idCheckSummary(result));
      // Exit 1 without an error line: the table and the summary said it all.
      if (result.badCount > 0) throw new CliError(EXIT.FAILURE, '');
    });
}
