import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { storedDeviceIdArg } from '../../validate.js';
import { deviceDetail } from './present.js';

/** `show` (alias `get`): under both `fleet devices` and `fleet device`. */
export function registerShowCommand(parent: Command, io: FleetIO): void {
  withExamples(parent.command('show'), [
    'fleet device show cam-0001',
    'fleet device show cam-0001 --json | jq .deliveries',
  ])
    .alias('get')
    .description('show a device, its deliveries and its history')
    .argument('<id>', 'device id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const deviceId = storedDeviceIdArg(id);
      const detail = await s.withClient((client) => client.devices.get.query({ deviceId }));
      s.output(detail, () => deviceDetail(detail, s));
    });
}
