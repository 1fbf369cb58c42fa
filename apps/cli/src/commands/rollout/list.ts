import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { WATCH_INTERVAL, watchIntervalOf, watchList } from '../../list-watch.js';
import { Session } from '../../session.js';
import { intOption } from '../../validate.js';
import { rolloutsTable } from './present.js';

export function registerListCommand(rollout: Command, io: FleetIO): void {
  withExamples(
    rollout
      .command('list')
      .alias('ls')
      .description('list rollouts, newest first; --watch to keep the list up to date')
      .option('--limit <n>', 'at most this many (1-500)', '50')
      .option('-w, --watch', 'keep watching: redraw on a terminal, a new table on each change when piped')
      .option(
        '--interval <duration>',
        'how often the server looks for changes while --watch follows',
        WATCH_INTERVAL,
      )
      .action(async (options: { limit: string; watch?: boolean; interval: string }, command: Command) => {
        const s = Session.of(io, command);
        const limit = intOption('--limit', options.limit, 1, 500);
        if (options.watch === true) {
          const intervalMs = watchIntervalOf(options.interval);
          await s.withClient((client) =>
            watchList(s, {
              title: 'fleet rollout list',
              intervalMs,
              fetch: () => client.rollout.list.query({ limit }),
              follow: (pushes) =>
                client.rollout.watchList.subscribe({ limit, intervalMs }, pushes).unsubscribe,
              render: (rollouts) =>
                rollouts.length === 0 ? s.c.dim('no rollouts yet') : rolloutsTable(rollouts, s),
            }),
          );
          return;
        }
        const rollouts = await s.withClient((client) => client.rollout.list.query({ limit }));
        s.output(rollouts, () => {
          if (rollouts.length === 0) {
            s.note('no rollouts yet');
            return null;
          }
          return rolloutsTable(rollouts, s);
        });
      }),
    [
      'fleet rollout list --limit 10',
      'fleet rollout list --watch',
      'fleet rollout list --json | jq -r \'.[] | select(.status == "active") | .id\'',
    ],
  );
}
