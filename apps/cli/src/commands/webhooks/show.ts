import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { webhookIdArg } from './args.js';
import { webhookDetail } from './present.js';

export function registerShowCommand(webhook: Command, io: FleetIO): void {
  withExamples(webhook.command('show'), ['fleet webhook show wh_0123456789abcdef'])
    .alias('get')
    .description(
      'show one endpoint: its events, status (and why it is disabled), backlog, drops and failures',
    )
    .argument('<id>', 'webhook id (wh_…)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const webhookId = webhookIdArg(id);
      const endpoint = await s.withClient((client) => client.webhooks.get.query({ id: webhookId }));
      s.output(endpoint, () => webhookDetail(endpoint, s));
    });
}
