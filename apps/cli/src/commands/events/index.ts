import { RolloutId } from '@camfleet/contracts';
import type { Command } from 'commander';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { check, intOption } from '../../validate.js';
import { followEvents } from './follow.js';
import { eventLinesView, eventsTable, jsonLinesView } from './present.js';

const DEFAULT_LIMIT = 50;
const DEFAULT_FOLLOW_LIMIT = 20;

interface EventsFlags {
  rollout?: string;
  limit?: string;
  follow?: boolean;
}

export function registerEventsCommand(program: Command, io: FleetIO): void {
  program
    .command('events')
    .description('what happened to rollouts and deliveries, oldest first; --follow to keep watching')
    .option('--rollout <id>', 'only the events of this rollout (ro_…)')
    .option(
      '--limit <n>',
      `how many of the newest events to show (1-1000; default ${DEFAULT_LIMIT}, ${
        DEFAULT_FOLLOW_LIMIT
      } with --follow)`,
    )
    .option('--follow', 'then print new events as they happen, until Ctrl-C')
    .addHelpText(
      'after',
      `
Columns: TIME, ROLLOUT, DEVICE (- for rollout events), EVENT (offered → downloading, paused,
wave 2 opened, …), ATTEMPT, DETAIL (a delivery's error; who changed a rollout, and why).

--follow prints the newest events, then one line per new event, until Ctrl-C (exit 130) or until
the event stream fails (exit 7, or 5 if access is refused). After a reconnect the stream resumes
where it left off; an event that comes twice is printed once.

--json prints one JSON array of events. With --follow it prints one JSON object per line
(NDJSON) instead: the one exception to "exactly one JSON document".

Examples:
  fleet events --rollout ro_x
  fleet events --follow --json | jq -c 'select(.kind == "delivery" and .to == "failed")'`,
    )
    .action(async (flags: EventsFlags, command: Command) => {
      const s = Session.of(io, command);
      const rolloutId = flags.rollout;
      if (rolloutId !== undefined) check(`--rollout '${rolloutId}'`, RolloutId, rolloutId);
      const follow = flags.follow === true;
      const limit =
        intOption('--limit', flags.limit, 1, 1000) ?? (follow ? DEFAULT_FOLLOW_LIMIT : DEFAULT_LIMIT);

      if (follow) {
        const view = s.json ? jsonLinesView(s) : eventLinesView(s, rolloutId);
        await s.withClient((client) => followEvents(client, { rolloutId, limit, signal: io.signal }, view));
        return;
      }
      const scope = rolloutId !== undefined ? { rolloutId } : {};
      const events = await s.withClient((client) => client.events.list.query({ ...scope, limit }));
      s.output(events, () => {
        if (events.length === 0) {
          s.note(rolloutId !== undefined ? `no events for rollout ${rolloutId}` : 'no events yet');
          return null;
        }
        return eventsTable(events, s.c, s);
      });
    });
}
