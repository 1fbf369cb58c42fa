import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { patchIdArg } from '../../validate.js';
import { patchDetail } from './present.js';

export function registerShowCommand(patch: Command, io: FleetIO): void {
  withExamples(patch.command('show'), [
    'fleet patch show pat_x',
    'fleet patch show pat_x --json | jq .artifact',
  ])
    .alias('get')
    .description('show one patch: artifact, signature, storage and the rollouts that use it')
    .argument('<id>', 'patch id (pat_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const patchId = patchIdArg(id);
      const found = await s.withClient((client) => client.patch.get.query({ patchId }));
      s.output(found, () => patchDetail(found, s));
    });
}
