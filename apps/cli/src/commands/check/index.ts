import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerIdsCommand } from './ids.js';

/** `fleet check`: one-off checks of what the store holds (viewer role). */
export function registerCheckCommands(program: Command, io: FleetIO): void {
  const check = program
    .command('check')
    .description('check what the fleet stores against today’s rules; exit 1 when something breaks one');
  withExamples(check, ['fleet check ids', 'fleet check ids --json | jq -r ".bad[].deviceId"']);

  registerIdsCommand(check, io);
}
