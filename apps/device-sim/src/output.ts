import type { DeviceEvent } from './device.js';
import { type FleetSummary, formatSummaryLine } from './summary.js';

export interface ReporterOptions {
  /** Live single status line (a TTY) instead of one line per event. */
  live: boolean;
  quiet: boolean;
  write: (text: string) => void;
}

/** One line for an event worth a line, or null. Credential refusals are reported once, by the caller. */
export function formatEvent(event: DeviceEvent): string | null {
  const where = 'deliveryId' in event ? ` ${event.deliveryId}#${event.attempt}` : '';
  switch (event.type) {
    case 'install-done':
      return `${event.deviceId} installed ${event.version}${where}`;
    case 'install-failed':
      return `${event.deviceId} install failed${where}: ${event.error}`;
    case 'install-hung':
      return `${event.deviceId} install hung${where} (silent until the server retries)`;
    case 'install-canceled':
      return `${event.deviceId} install canceled${where}`;
    case 'rebooted':
      // A restart into the patch is the normal case; only a rollback is worth a line.
      return event.rolledBack
        ? `${event.deviceId} rolled back to ${event.version}${where} (came back from the restart on the old firmware)`
        : null;
    case 'cancel':
      return event.decision === 'refused'
        ? `${event.deviceId} refused to cancel${where} (too late to stop): ${event.reason}`
        : null;
    case 'report-rejected':
      return `${event.deviceId} report ${event.status} rejected${where}: ${event.reason}`;
    case 'rejected':
      return `${event.deviceId} rejected by the server: ${event.message}`;
    case 'fatal':
      return `${event.deviceId} stopped: ${event.message}`;
    case 'replaced':
      return `${event.deviceId} stopped: ${event.message}`;
    case 'warning':
      return `${event.deviceId}: ${event.message}`;
    default:
      return null;
  }
}

/**
 * Which devices were refused for their credentials, grouped by reason, for the end of a run; null
 * if none. At most `limit` ids per reason.
 */
export function formatRejections(
  rejections: readonly { id: string; message: string }[],
  limit = 20,
): string | null {
  if (rejections.length === 0) return null;
  const byMessage = new Map<string, string[]>();
  for (const { id, message } of rejections) {
    const ids = byMessage.get(message) ?? [];
    ids.push(id);
    byMessage.set(message, ids);
  }
  const count = rejections.length;
  const lines = [`${count} device${count === 1 ? '' : 's'} rejected for credentials:`];
  for (const [message, ids] of byMessage) {
    const shown = ids.slice(0, limit).join(', ');
    const more = ids.length > limit ? ` … and ${ids.length - limit} more` : '';
    lines.push(`  ${message}: ${shown}${more}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Prints the simulation's progress without a wall of logs: event lines when piped, or a live
 * status line on a TTY (refusals still printed above it). Credential refusals are printed once.
 */
export class Reporter {
  private liveShown = false;
  private lastStatus = '';
  private rejectionsShown = 0;

  constructor(private readonly options: ReporterOptions) {}

  event(event: DeviceEvent): void {
    if (this.options.quiet) return;
    if (event.type === 'rejected' && this.rejectionsShown++ > 0) return;
    const always = ['rejected', 'fatal', 'replaced', 'warning'].includes(event.type);
    if (this.options.live && !always) return;
    const line = formatEvent(event);
    if (line !== null) this.line(line);
  }

  status(summary: FleetSummary): void {
    if (this.options.quiet || !this.options.live) return;
    const line = formatSummaryLine(summary);
    if (this.liveShown && line === this.lastStatus) return;
    this.options.write(`\r\x1b[2K${line}`);
    this.lastStatus = line;
    this.liveShown = true;
  }

  /** The last word, printed even when quiet. */
  final(summary: FleetSummary): void {
    this.line(formatSummaryLine(summary));
  }

  private line(text: string): void {
    if (this.liveShown) this.options.write('\r\x1b[2K');
    this.liveShown = false;
    this.options.write(`${text}\n`);
  }
}
