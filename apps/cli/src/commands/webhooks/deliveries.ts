import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { intOption } from '../../validate.js';
import { webhookIdArg } from './args.js';
import { deliveriesTable } from './present.js';

export function registerDeliveriesCommand(webhook: Command, io: FleetIO): void {
  withExamples(webhook.command('deliveries'), [
    'fleet webhook deliveries wh_0123456789abcdef',
    'fleet webhook deliveries wh_0123456789abcdef --limit 500 --json | jq \'.[] | select(.state == "failed")\'',
  ])
    .description(
      "an endpoint's delivery log, newest first: event, type, state, attempts, the last answer or error, the next try",
    )
    .argument('<id>', 'webhook id (wh_…)')
    .option('--limit <n>', 'at most this many (1 to 1000, default 50)')
    .action(async (id: string, flags: { limit?: string }, command: Command) => {
      const s = Session.of(io, command);
      const webhookId = webhookIdArg(id);
      const limit = intOption('--limit', flags.limit, 1, 1000) ?? 50;
      const deliveries = await s.withClient((client) =>
        client.webhooks.deliveries.query({ id: webhookId, limit }),
      );
      s.output(deliveries, () => {
        if (deliveries.length === 0) {
          s.note(`nothing delivered to ${webhookId} yet`);
          return null;
        }
        return deliveriesTable(deliveries, s);
      });
    });
}
