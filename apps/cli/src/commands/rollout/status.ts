import type { Command } from 'commander';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { WATCH_INTERVAL, watchIntervalOf, watchList } from '../../list-watch.js';
import { Session } from '../../session.js';
import { rolloutIdArg } from '../../validate.js';
import { rolloutDetail } from './present.js';

export function registerStatusCommand(rollout: Command, io: FleetIO): void {
  const statusCommand = rollout
    .command('status')
    .alias('show')
    .description(
      'show a rollout: status, target, waves, gate, limits and delivery counts; --watch to follow it',
    )
    .argument('<id>', 'rollout id (ro_…)')
    .option(
      '-w, --watch',
      'keep watching until Ctrl-C: redraw on a terminal, the view again on each change when piped',
    )
    .option(
      '--interval <duration>',
      'how often the server looks for changes while --watch follows',
      WATCH_INTERVAL,
    );
  withExamples(statusCommand, [
    'fleet rollout status ro_x',
    'fleet rollout status ro_x --json | jq .counts',
    'fleet rollout status ro_x --watch',
  ]);
  statusCommand.action(
    async (id: string, options: { watch?: boolean; interval: string }, command: Command) => {
      const s = Session.of(io, command);
      const rolloutId = rolloutIdArg(id);
      if (options.watch === true) {
        const intervalMs = watchIntervalOf(options.interval);
        await s.withClient((client) =>
          watchList(s, {
            title: `fleet rollout status ${rolloutId}`,
            intervalMs,
            fetch: () => client.rollout.get.query({ rolloutId }),
            follow: (pushes) => client.rollout.watch.subscribe({ rolloutId, intervalMs }, pushes).unsubscribe,
            render: (status) => rolloutDetail(status, s),
          }),
        );
        return;
      }
      const status = await s.withClient((client) => client.rollout.get.query({ rolloutId }));
      s.output(status, () => rolloutDetail(status, s));
    },
  );
}
