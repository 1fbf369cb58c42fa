import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerCredentialCommands } from './credentials.js';
import { registerImportCommand } from './import.js';
import { registerListCommand } from './list.js';
import { registerShowCommand } from './show.js';

/** `fleet devices` (list, show, import) and `fleet device` (show one; its credentials), in --help's order. */
export function registerDeviceCommands(program: Command, io: FleetIO): void {
  const devices = program.command('devices').description('list devices');
  withExamples(devices, [
    'fleet devices list --online',
    'fleet devices list --watch',
    'fleet devices show cam-0001',
    'fleet devices import cameras.csv --credentials creds.json',
  ]);
  registerListCommand(devices, io);
  registerShowCommand(devices, io);
  registerImportCommand(devices, io);

  const device = program
    .command('device')
    .description('inspect one device; provision, rotate and revoke its credentials (admin role)');
  withExamples(device, [
    'fleet device show cam-0001',
    'fleet device provision cam-0042 --model cam-x1 --credentials creds.json',
    'fleet device revoke cam-0042',
  ]);
  registerShowCommand(device, io);
  registerCredentialCommands(device, io);
}
