import type { FleetClient } from '@camfleet/client';
import type { Device, DevicePage } from '@camfleet/contracts';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { readOnChange, WATCH_INTERVAL, watchIntervalOf, watchList } from '../../list-watch.js';
import { Session } from '../../session.js';
import { intOption, selectorOption } from '../../validate.js';
import { devicesTable } from './present.js';

interface ListFlags {
  watch?: boolean;
  interval?: string;
  online?: boolean;
  offline?: boolean;
  limit: string;
  cursor?: string;
  allPages?: boolean;
  selector?: string;
}

export interface ListDevicesRequest {
  limit: number;
  online?: boolean;
  cursor?: string;
  selector?: string;
  allPages: boolean;
}

export function listDevicesRequest(flags: ListFlags): ListDevicesRequest {
  if (flags.online && flags.offline) throw new UsageError('--online and --offline exclude each other');
  if (flags.allPages && flags.cursor !== undefined)
    throw new UsageError('--all-pages and --cursor exclude each other');
  const limit = intOption('--limit', flags.limit, 1, 1000) ?? 100;
  return {
    limit,
    allPages: flags.allPages === true,
    ...(flags.online ? { online: true } : flags.offline ? { online: false } : {}),
    ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
    ...(flags.selector !== undefined ? { selector: selectorOption(flags.selector) } : {}),
  };
}

/** One page, or every page (following nextCursor) merged into one with nextCursor null. */
export async function fetchDevices(client: FleetClient, request: ListDevicesRequest): Promise<DevicePage> {
  const { allPages, ...query } = request;
  const first = await client.devices.list.query(query);
  if (!allPages) return first;
  const devices: Device[] = [...first.devices];
  const seen = new Set<string>();
  let cursor = first.nextCursor;
  while (cursor !== null) {
    if (seen.has(cursor)) throw new Error(`the server repeated cursor ${cursor}; stopping`);
    seen.add(cursor);
    const page = await client.devices.list.query({ ...query, cursor });
    devices.push(...page.devices);
    cursor = page.nextCursor;
  }
  return { devices, nextCursor: null };
}

export function registerListCommand(devices: Command, io: FleetIO): void {
  withExamples(
    devices
      .command('list')
      .alias('ls')
      .description('list devices, one page (or --all-pages); --watch to keep the list up to date')
      .option(
        '--selector <expr>',
        'only devices whose labels match, as for rollouts (site=north, model in (cam-x))',
      )
      .option('--online', 'only devices connected now')
      .option('--offline', 'only devices not connected now')
      .option('--limit <n>', 'devices per page (1-1000)', '100')
      .option('--cursor <cursor>', 'continue from a previous page')
      .option('--all-pages', 'follow the cursor through every page')
      .option('-w, --watch', 'keep watching: redraw on a terminal, a new table on each change when piped')
      .option(
        '--interval <duration>',
        'how often the server looks for changes while --watch follows',
        WATCH_INTERVAL,
      )
      .action(async (flags: ListFlags, command: Command) => {
        const s = Session.of(io, command);
        const request = listDevicesRequest(flags);
        if (flags.watch === true) {
          const intervalMs = watchIntervalOf(flags.interval ?? WATCH_INTERVAL);
          await s.withClient((client) =>
            watchList(s, {
              title: 'fleet devices list',
              intervalMs,
              fetch: () => fetchDevices(client, request),
              // The list is read again only when the fleet's figures change (a device came, went,
              // connected or disconnected), not on a timer.
              follow: (pushes) =>
                client.fleet.watch.subscribe(
                  { intervalMs },
                  { ...pushes, onData: readOnChange(() => fetchDevices(client, request), pushes) },
                ).unsubscribe,
              render: (page) =>
                page.devices.length === 0 ? s.c.dim('no devices') : devicesTable(page.devices, s),
            }),
          );
          return;
        }
        const page = await s.withClient((client) => fetchDevices(client, request));
        s.output(page, () => {
          if (page.devices.length === 0) {
            s.note('no devices');
            return null;
          }
          return devicesTable(page.devices, s);
        });
        if (page.nextCursor !== null) s.note(`more devices: --cursor ${page.nextCursor} (or --all-pages)`);
      }),
    [
      'fleet devices list --online --limit 50',
      "fleet devices list --selector 'site=north,model=cam-x' --all-pages",
      'fleet devices list --all-pages --json | jq -r \'.devices[] | select(.firmwareVersion != "2.1.0") | .id\'',
      'fleet devices list --offline --watch',
    ],
  );
}
