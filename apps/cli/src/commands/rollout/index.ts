import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerActionCommands } from './actions.js';
import { registerCreateCommand } from './create.js';
import { registerListCommand } from './list.js';
import { registerStatusCommand } from './status.js';
import { registerWatchCommand } from './watch.js';

/** `fleet rollout`: its subcommands, in the order --help lists them. */
export function registerRolloutCommands(program: Command, io: FleetIO): void {
  const rollout = program
    .command('rollout')
    .alias('rollouts')
    .description('create, follow, pause, resume, advance and cancel rollouts');
  withExamples(rollout, [
    'fleet rollout create --patch pat_x --all --waves 10,100',
    'fleet rollout list --watch',
    'fleet rollout watch ro_x',
    'fleet rollout pause ro_x --reason "maintenance window"',
  ]);

  registerCreateCommand(rollout, io);
  registerStatusCommand(rollout, io);
  registerListCommand(rollout, io);
  registerActionCommands(rollout, io);
  registerWatchCommand(rollout, io);
}
