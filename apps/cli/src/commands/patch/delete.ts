import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { patchIdArg } from '../../validate.js';

export function registerDeleteCommand(patch: Command, io: FleetIO): void {
  withExamples(patch.command('delete'), ['fleet patch delete pat_x'])
    .description('delete a patch (refused, exit 6, while a live rollout uses it)')
    .argument('<id>', 'patch id (pat_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const patchId = patchIdArg(id);
      const deleted = await s.withClient((client) => client.patch.delete.mutate({ patchId }));
      s.output(deleted, () => `deleted patch ${deleted.patchId}`);
    });
}
