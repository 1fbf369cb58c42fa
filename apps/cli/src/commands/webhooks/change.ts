import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { webhookIdArg } from './args.js';

/** `webhook delete` and `webhook enable`: one endpoint changed, what it is now said on stdout. */
export function registerChangeCommands(webhook: Command, io: FleetIO): void {
  withExamples(webhook.command('delete'), ['fleet webhook delete wh_0123456789abcdef'])
    .alias('rm')
    .description('delete an endpoint with its backlog and delivery log; nothing more is sent to it')
    .argument('<id>', 'webhook id (wh_…)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const webhookId = webhookIdArg(id);
      const deleted = await s.withClient((client) => client.webhooks.delete.mutate({ id: webhookId }));
      s.output(deleted, () => {
        if (deleted.backlog > 0) s.note(`${deleted.backlog} deliveries waiting were dropped with it`);
        return `deleted webhook ${deleted.id} (${deleted.url})`;
      });
    });

  withExamples(webhook.command('enable'), ['fleet webhook enable wh_0123456789abcdef'])
    .description(
      'enable an endpoint disabled after failures: its failures are forgotten and its backlog is sent',
    )
    .argument('<id>', 'webhook id (wh_…)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const webhookId = webhookIdArg(id);
      const enabled = await s.withClient((client) => client.webhooks.enable.mutate({ id: webhookId }));
      s.output(
        enabled,
        () => `enabled webhook ${enabled.id}; ${enabled.backlog} deliveries waiting are sent now`,
      );
    });
}
