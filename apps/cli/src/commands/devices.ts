import type { FleetClient } from '@camfleet/client';
import type { Device, DeviceDetail, DevicePage } from '@camfleet/contracts';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { type Colors, colorState, formatAgo, formatWhen, keyValues, table, truncate } from '../format.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { deviceIdArg, intOption } from '../validate.js';
import { registerCredentialCommands } from './credentials.js';

interface ListFlags {
  online?: boolean;
  offline?: boolean;
  limit: string;
  cursor?: string;
  allPages?: boolean;
}

export interface ListDevicesRequest {
  limit: number;
  online?: boolean;
  cursor?: string;
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
  return table(
    ['ID', 'MODEL', 'FIRMWARE', 'STATUS', 'NODE', 'LAST SEEN', 'LABELS'],
    devices.map((d) => [
      d.id,
      d.model,
      d.firmwareVersion,
      online(d, s.c),
      d.node ?? '-',
      formatAgo(d.lastSeenAt, s.now()),
      truncate(labelsOf(d.labels), 50),
    ]),
    s.c,
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
      : `${c.bold('Deliveries')}\n${table(
          ['ROLLOUT', 'PATCH', 'STATE', 'ATTEMPT', 'FAILURES', 'LAST ERROR', 'UPDATED', 'RETRY AT'],
          deliveries.map((d) => [
            d.rolloutId,
            d.patchId,
            colorState(d.state, c),
            d.attempt,
            `${d.failures}/${d.maxAttempts}`,
            d.lastError ? truncate(d.lastError, 40) : '-',
            formatWhen(d.updatedAt, now),
            d.retryAt !== null ? formatWhen(d.retryAt, now) : '-',
          ]),
          c,
          ['left', 'left', 'left', 'right', 'right', 'left', 'left', 'left'],
        )}`,
  );
  sections.push(
    history.length === 0
      ? `${c.bold('History')}\n${c.dim('none')}`
      : `${c.bold('History')} ${c.dim('(newest first)')}\n${table(
          ['AT', 'ROLLOUT', 'ATTEMPT', 'FROM', 'TO', 'ERROR'],
          history.map((h) => [
            formatWhen(h.at, now),
            h.rolloutId,
            h.attempt,
            h.from ? colorState(h.from, c) : '-',
            colorState(h.to, c),
            h.error ? truncate(h.error, 50) : '-',
          ]),
          c,
          ['left', 'left', 'right', 'left', 'left', 'left'],
        )}`,
  );
  return sections.join('\n\n');
}

function registerShow(parent: Command, io: FleetIO): void {
  parent
    .command('show')
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
  devices
    .command('list')
    .alias('ls')
    .description('list devices, one page (or --all-pages)')
    .option('--online', 'only devices connected now')
    .option('--offline', 'only devices not connected now')
    .option('--limit <n>', 'devices per page (1-1000)', '100')
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--all-pages', 'follow the cursor through every page')
    .action(async (flags: ListFlags, command: Command) => {
      const s = Session.of(io, command);
      const request = listDevicesRequest(flags);
      const page = await s.withClient((client) => fetchDevices(client, request));
      s.output(page, () => {
        if (page.devices.length === 0) {
          s.note('no devices');
          return null;
        }
        return devicesTable(page.devices, s);
      });
      if (page.nextCursor !== null) s.note(`more devices: --cursor ${page.nextCursor} (or --all-pages)`);
    });
  registerShow(devices, io);

  const device = program
    .command('device')
    .description('inspect one device; provision, rotate and revoke its credentials (admin role)');
  registerShow(device, io);
  registerCredentialCommands(device, io);
}
