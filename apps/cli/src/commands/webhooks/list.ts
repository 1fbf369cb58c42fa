import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { webhooksTable } from './present.js';

export function registerListCommand(webhook: Command, io: FleetIO): void {
  withExamples(webhook.command('list'), [
    'fleet webhook list',
    "fleet webhook list --json | jq -r '.[] | select(.enabled | not) | .id'",
  ])
    .alias('ls')
    .description(
      'list the webhook endpoints: status, backlog, what was dropped and delivered, the last error',
    )
    .action(async (_flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const endpoints = await s.withClient((client) => client.webhooks.list.query());
      s.output(endpoints, () => {
        if (endpoints.length === 0) {
          s.note('no webhooks yet: fleet webhook create --url URL --events LIST adds one');
          return null;
        }
        const disabled = endpoints.filter((e) => !e.enabled);
        if (disabled.length > 0)
          s.note(`${disabled.length} disabled after failing again and again: fleet webhook show ID says why`);
        return webhooksTable(endpoints, s);
      });
    });
}
