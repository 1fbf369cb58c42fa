import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { registerChangeCommands } from './change.js';
import { registerCreateCommand } from './create.js';
import { registerDeliveriesCommand } from './deliveries.js';
import { registerListCommand } from './list.js';
import { registerShowCommand } from './show.js';
import { registerTestCommand } from './test-ping.js';

/** `fleet webhook`: endpoints that get the fleet's events (admin role), in the order --help lists them. */
export function registerWebhookCommands(program: Command, io: FleetIO): void {
  const webhook = program
    .command('webhook')
    .alias('webhooks')
    .description(
      'POST the fleet events to your endpoints, signed, retried, logged (admin role; docs/webhooks.md)',
    );
  withExamples(webhook, [
    "fleet webhook create --url https://hooks.example.com/camfleet --events 'rollout.*,delivery.failed'",
    'fleet webhook list',
    'fleet webhook deliveries wh_0123456789abcdef',
  ]);

  registerCreateCommand(webhook, io);
  registerListCommand(webhook, io);
  registerShowCommand(webhook, io);
  registerDeliveriesCommand(webhook, io);
  registerTestCommand(webhook, io);
  registerChangeCommands(webhook, io);
}
