import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerCreateCommand } from './create.js';
import { registerListCommand } from './list.js';
import { registerRevokeCommand } from './revoke.js';

/** `fleet token`: admin tokens, in the order --help lists them. */
export function registerTokenCommands(program: Command, io: FleetIO): void {
  const token = program
    .command('token')
    .alias('tokens')
    .description('issue, list and revoke admin tokens (admin role)');
  withExamples(token, [
    'fleet token create --role viewer --name dashboards --expires 90d',
    'fleet token list',
    'fleet token revoke 0123456789ab',
  ]);

  registerCreateCommand(token, io);
  registerListCommand(token, io);
  registerRevokeCommand(token, io);
}
