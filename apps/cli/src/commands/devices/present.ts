import type { Device, DeviceDetail } from '@camfleet/contracts';
import { formatAgo } from '@camfleet/present';
import { type Colors, colorState } from '../../colors.js';
import type { Session } from '../../session.js';
import { keyValues } from '../../table.js';
import { formatWhen } from '../../time.js';

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
