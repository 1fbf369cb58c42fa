import type { FleetStats } from '@camfleet/contracts';
import type { Command } from 'commander';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { keyValues } from '../table.js';

export function statsDetail(stats: FleetStats, s: Session): string {
  const head = keyValues(
    [
      ['Devices', String(stats.devices)],
      [
        'Online',
        `${stats.online} (${stats.devices > 0 ? Math.round((stats.online / stats.devices) * 100) : 0}%)`,
      ],
      ['Patches', String(stats.patches)],
      ['Rollouts', String(stats.rollouts)],
    ],
    s.c,
  );
  if (stats.nodes.length === 0) return head;
  const nodes = s.table(
    ['NODE', 'DEVICES'],
    stats.nodes.map((n) => [n.node, n.devices]),
    ['left', 'right'],
  );
  return `${head}\n\n${nodes}`;
}

export function registerStatsCommand(program: Command, io: FleetIO): void {
  withExamples(program.command('stats'), ['fleet stats', 'fleet stats --json | jq .online'])
    .description('fleet-wide counts: devices, online, patches, rollouts, devices per node')
    .action(async (_options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const stats = await s.withClient((client) => client.fleet.stats.query());
      s.output(stats, () => statsDetail(stats, s));
    });
}
