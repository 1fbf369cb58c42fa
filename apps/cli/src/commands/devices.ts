import type { FleetClient } from '@camfleet/client';
import type { Device, DeviceDetail, DevicePage } from '@camfleet/contracts';
import { formatAgo } from '@camfleet/present';
import type { Command } from 'commander';
import { type Colors, colorState } from '../colors.js';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { WATCH_INTERVAL, watchIntervalOf, watchList } from '../list-watch.js';
import { Session } from '../session.js';
import { keyValues } from '../table.js';
import { formatWhen } from '../time.js';
import { deviceIdArg, intOption, selectorOption } from '../validate.js';
import { registerCredentialCommands } from './credentials.js';

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

function online(device: Device, c: Colors): string {
  return device.online ? c.green('online') : c.gray('offline');
}

function labelsOf(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

export function devicesTable(devices: readonly Device[], s: Session): string {
  return s.table(
    ['ID', 'MODEL', 'FIRMWARE', 'STATUS', 'NODE', 'LAST SEEN', 'LABELS'],
    devices.map((d) => [
      d.id,
      d.model,
      d.firmwareVersion,
      online(d, s.c),
      d.node ?? '-',
      formatAgo(d.lastSeenAt, s.now()),
      s.cell(labelsOf(d.labels), 50),
    ]),
  );
}

export function deviceDetail(detail: DeviceDetail, s: Session): string {
  const { device, deliveries, history } = detail;
  const { c } = s;
  const now = s.now();
  const sections = [
    keyValues(
      [
        ['Device', c.bold(device.id)],
        ['Model', device.model],
        ['Firmware', device.firmwareVersion],
        ['Status', `${online(device, c)}${device.node ? ` on ${device.node}` : ''}`],
        ['First seen', formatWhen(device.firstSeenAt, now)],
        ['Last seen', formatWhen(device.lastSeenAt, now)],
        ['Labels', labelsOf(device.labels)],
      ],
      c,
    ),
  ];
  sections.push(
    deliveries.length === 0
      ? `${c.bold('Deliveries')}\n${c.dim('none')}`
      : `${c.bold('Deliveries')}\n${s.table(
          ['ROLLOUT', 'PATCH', 'STATE', 'ATTEMPT', 'FAILURES', 'LAST ERROR', 'UPDATED', 'RETRY AT'],
          deliveries.map((d) => [
            d.rolloutId,
            d.patchId,
            colorState(d.state, c),
            d.attempt,
            `${d.failures}/${d.maxAttempts}`,
            d.lastError ? s.cell(d.lastError, 40) : '-',
            formatWhen(d.updatedAt, now),
            d.retryAt !== null ? formatWhen(d.retryAt, now) : '-',
          ]),
          ['left', 'left', 'left', 'right', 'right', 'left', 'left', 'left'],
        )}`,
  );
  sections.push(
    history.length === 0
      ? `${c.bold('History')}\n${c.dim('none')}`
      : `${c.bold('History')} ${c.dim('(newest first)')}\n${s.table(
          ['AT', 'ROLLOUT', 'ATTEMPT', 'FROM', 'TO', 'ERROR'],
          history.map((h) => [
            formatWhen(h.at, now),
            h.rolloutId,
            h.attempt,
            h.from ? colorState(h.from, c) : '-',
            colorState(h.to, c),
            h.error ? s.cell(h.error, 50) : '-',
          ]),
          ['left', 'left', 'right', 'left', 'left', 'left'],
        )}`,
  );
  return sections.join('\n\n');
}

function registerShow(parent: Command, io: FleetIO): void {
  withExamples(parent.command('show'), [
    'fleet device show cam-0001',
    'fleet device show cam-0001 --json | jq .deliveries',
  ])
    .alias('get')
    .description('show a device, its deliveries and its history')
    .argument('<id>', 'device id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const deviceId = deviceIdArg(id);
      const detail = await s.withClient((client) => client.devices.get.query({ deviceId }));
      s.output(detail, () => deviceDetail(detail, s));
    });
}

export function registerDeviceCommands(program: Command, io: FleetIO): void {
  const devices = program.command('devices').description('list devices');
  withExamples(devices, [
    'fleet devices list --online',
    'fleet devices list --watch',
    'fleet devices show cam-0001',
  ]);
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
      .option('--interval <duration>', 'how often --watch refreshes', WATCH_INTERVAL)
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
  registerShow(devices, io);

  const device = program
    .command('device')
    .description('inspect one device; provision, rotate and revoke its credentials (admin role)');
  withExamples(device, [
    'fleet device show cam-0001',
    'fleet device provision cam-0042 --model cam-x1 --credentials creds.json',
    'fleet device revoke cam-0042',
  ]);
  registerShow(device, io);
  registerCredentialCommands(device, io);
}
