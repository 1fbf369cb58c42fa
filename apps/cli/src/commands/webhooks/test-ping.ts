import type { Command } from 'commander';
import { CliError, EXIT } from '../../errors.js';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { webhookIdArg } from './args.js';
import { testText } from './present.js';

export function registerTestCommand(webhook: Command, io: FleetIO): void {
  withExamples(webhook.command('test'), ['fleet webhook test wh_0123456789abcdef'])
    .description(
      'send a signed ping event now (not queued, not retried); exit 1 unless the endpoint answers 2xx',
    )
    .argument('<id>', 'webhook id (wh_…)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const webhookId = webhookIdArg(id);
      const result = await s.withClient((client) => client.webhooks.test.mutate({ id: webhookId }));
      s.output(result, () => testText(webhookId, result));
      if (!result.ok) throw new CliError(EXIT.FAILURE, '');
    });
}
