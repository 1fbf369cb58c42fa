import type { FleetClient } from '@camfleet/client';
import { RolloutActionInput, type RolloutStatus } from '@camfleet/contracts';
import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { check, rolloutIdArg } from '../../validate.js';
import { gateText, statusLine } from './present.js';

type Action = 'pause' | 'resume' | 'advance' | 'cancel';

const ACTIONS: ReadonlyArray<{ name: Action; description: string; reason: boolean }> = [
  {
    name: 'pause',
    description: 'pause a rollout: no further offers go out until it is resumed',
    reason: true,
  },
  { name: 'resume', description: 'resume a paused rollout', reason: false },
  { name: 'advance', description: 'open the next wave now, whatever holds it back', reason: false },
  {
    name: 'cancel',
    description: 'cancel a rollout: queued deliveries are canceled, devices at work are asked to stop',
    reason: true,
  },
];

function perform(
  client: FleetClient,
  action: Action,
  input: { rolloutId: string; reason?: string },
): Promise<RolloutStatus> {
  switch (action) {
    case 'pause':
      return client.rollout.pause.mutate(input);
    case 'resume':
      return client.rollout.resume.mutate({ rolloutId: input.rolloutId });
    case 'advance':
      return client.rollout.advance.mutate({ rolloutId: input.rolloutId });
    case 'cancel':
      return client.rollout.cancel.mutate(input);
  }
}

/** pause, resume, advance and cancel: one command each, alike but for --reason. */
export function registerActionCommands(rollout: Command, io: FleetIO): void {
  for (const action of ACTIONS) {
    const command = rollout
      .command(action.name)
      .description(action.description)
      .argument('<id>', 'rollout id (ro_…)');
    if (action.reason) command.option('--reason <text>', 'why (shown in status; at most 500 characters)');
    withExamples(
      command,
      action.reason
        ? [
            `fleet rollout ${action.name} ro_x --reason "${action.name === 'pause' ? 'maintenance window' : 'bad build'}"`,
          ]
        : [`fleet rollout ${action.name} ro_x`],
    );
    command.action(async (id: string, options: { reason?: string }, cmd: Command) => {
      const s = Session.of(io, cmd);
      const rolloutId = rolloutIdArg(id);
      const input = { rolloutId, ...(options.reason !== undefined ? { reason: options.reason } : {}) };
      check('--reason', RolloutActionInput, input, () => null);
      const status = await s.withClient((client) => perform(client, action.name, input));
      s.output(status, () => statusLine(status, s.c));
      if (status.gate !== null && status.gate.kind !== 'paused') {
        s.note(gateText(status.gate, status.id, s.now()));
      }
    });
  }
}
