import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerDeleteCommand } from './delete.js';
import { registerDeltaCommand } from './delta.js';
import { registerListCommand } from './list.js';
import { registerPublishCommand } from './publish.js';
import { registerShowCommand } from './show.js';

/** `fleet patch`: its subcommands, in the order --help lists them. */
export function registerPatchCommands(program: Command, io: FleetIO): void {
  const patch = program.command('patch').alias('patches').description('publish and inspect patches');
  withExamples(patch, [
    'fleet patch publish cam-fw-1.5.0.bin --name cam-firmware --version 1.5.0',
    'fleet patch list',
    'fleet patch show pat_x',
    'fleet patch delta pat_new --from pat_old',
  ]);

  registerPublishCommand(patch, io);
  registerListCommand(patch, io);
  registerShowCommand(patch, io);
  registerDeltaCommand(patch, io);
  registerDeleteCommand(patch, io);
}
