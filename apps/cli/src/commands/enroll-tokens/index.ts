import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerCreateCommand } from './create.js';
import { registerListCommand } from './list.js';
import { registerRevokeCommand } from './revoke.js';

/** `fleet enroll-token`: enrollment tokens, in the order --help lists them. */
export function registerEnrollTokenCommands(program: Command, io: FleetIO): void {
  const enroll = program
    .command('enroll-token')
    .alias('enroll-tokens')
    .description('issue, list and revoke enrollment tokens, which devices trade for a secret (admin role)');
  withExamples(enroll, [
    'fleet enroll-token create --name site-berlin --uses 50 --expires 7d',
    'fleet enroll-token list',
    'fleet enroll-token revoke 0123456789ab',
  ]);

  registerCreateCommand(enroll, io);
  registerListCommand(enroll, io);
  registerRevokeCommand(enroll, io);
}
