import { formatBytes } from '@camfleet/present';
import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { patchIdArg } from '../../validate.js';

export function registerDeltaCommand(patch: Command, io: FleetIO): void {
  withExamples(patch.command('delta'), [
    'fleet patch delta pat_new --from pat_old',
    'fleet patch delta pat_new --from pat_old --json | jq .size',
  ])
    .description(
      "make a binary delta of a patch's artifact from an earlier version's (zstd --patch-from); " +
        'rollouts created afterwards offer it to devices running that version',
    )
    .argument('<id>', 'the patch the delta rebuilds (pat_…)')
    .requiredOption('--from <id>', 'the earlier patch of the same name whose artifact devices run (pat_…)')
    .action(async (id: string, options: { from: string }, command: Command) => {
      const s = Session.of(io, command);
      const patchId = patchIdArg(id);
      const fromPatchId = patchIdArg(options.from);
      const delta = await s.withClient((client) => client.patch.createDelta.mutate({ patchId, fromPatchId }));
      s.output(
        delta,
        () =>
          `delta from ${delta.fromVersion} (${delta.fromPatchId}): ${formatBytes(delta.size)}, sha256 ${delta.sha256}`,
      );
    });
}
