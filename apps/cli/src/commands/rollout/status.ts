import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { rolloutIdArg } from '../../validate.js';
import { rolloutDetail } from './present.js';

export function registerStatusCommand(rollout: Command, io: FleetIO): void {
  const statusCommand = rollout
    .command('status')
    .alias('show')
    .description('show a rollout: status, target, waves, gate, limits and delivery counts')
    .argument('<id>', 'rollout id (ro_…)');
  withExamples(statusCommand, ['fleet rollout status ro_x', 'fleet rollout status ro_x --json | jq .counts']);
  statusCommand.action(async (id: string, _options: unknown, command: Command) => {
    const s = Session.of(io, command);
    const rolloutId = rolloutIdArg(id);
    const status = await s.withClient((client) => client.rollout.get.query({ rolloutId }));
    s.output(status, () => rolloutDetail(status, s));
  });
}
