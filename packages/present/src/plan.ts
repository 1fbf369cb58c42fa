import type { CreateRolloutInput, MaintenanceWindow, TargetPreview } from '@camfleet/contracts';
import { formatDuration } from '@camfleet/contracts/duration';
import { formatPercent } from './units.js';

/** How the plan reads moments: on the surface's own clock. */
export interface PlanWording {
  at: (ms: number) => string;
}

const count = (n: number) => n.toLocaleString('en-US');
const devicesText = (n: number) => `${count(n)} ${n === 1 ? 'device' : 'devices'}`;

/** `Mon,Tue 01:00-04:00; Sat 22:00-02:00`. */
export function windowsText(windows: readonly MaintenanceWindow[]): string {
  return windows.map((w) => `${w.days.join(',')} ${w.start}-${w.end}`).join('; ');
}

/** Each wave's own devices, about (a device's wave is a hash of its id): cumulative percentages → counts. */
export function waveSizes(waves: readonly number[], devices: number): number[] {
  const upTo = waves.map((percent) => Math.round((devices * percent) / 100));
  return upTo.map((n, i) => n - (upTo[i - 1] ?? 0));
}

/**
 * What a rollout will do, in sentences, from its settings (defaults applied) and the server's
 * preview of its target: the confirmation the dashboard shows and `rollout create --dry-run` prints.
 * The first line is the headline: `1,240 devices in 3 waves, at most 20 at a time`.
 */
export function planLines(
  settings: CreateRolloutInput,
  preview: TargetPreview,
  wording: PlanWording,
): string[] {
  const s = settings;
  const about = preview.exact ? '' : 'about ';
  const waves =
    s.waves.length === 1
      ? 'in one wave'
      : `in ${s.waves.length} waves (${waveSizes(s.waves, preview.matched)
          .map((n, i) => `${s.waves[i]}%: ~${count(n)}`)
          .join(', ')})`;
  const lines = [
    `${about}${devicesText(preview.matched)} ${waves}${s.maxInFlight !== null ? `, at most ${count(s.maxInFlight)} at a time` : ''}`,
    `${count(preview.online)} online now; ${count(preview.offline)} offline get it when they connect` +
      (preview.exact ? '' : ` (estimated from ${devicesText(preview.scanned)} of ${count(preview.fleet)})`),
  ];
  if (s.waves.length > 1) {
    lines.push(
      s.advance === 'manual'
        ? 'each next wave opens when an operator advances it'
        : `each next wave opens once ${formatPercent(s.successThreshold)} of the one before succeeded${
            s.soakMs > 0 ? ` and ${formatDuration(s.soakMs)} passed` : ''
          }`,
    );
  }
  if (s.maxPerMinute !== null) lines.push(`at most ${count(s.maxPerMinute)} offers a minute`);
  if (s.ramp !== null) {
    lines.push(
      `ramp: ${count(s.ramp.startPerMinute)} offers a minute to start, ×${s.ramp.factor} every ${count(s.ramp.everySuccesses)} successes`,
    );
  }
  lines.push(
    s.failureThreshold === null
      ? 'failures never pause it'
      : `${s.onFailure === 'abort' ? 'aborts' : 'pauses'} once more than ${formatPercent(s.failureThreshold)} of finished deliveries failed (from ${count(s.minSample)} finished${s.countTimeouts ? ', timeouts counted' : ''})`,
  );
  lines.push(
    `each device: up to ${s.maxAttempts} attempts, ${formatDuration(s.ackTimeoutMs)} to report, retries after ${formatDuration(
      s.retryBackoff.baseMs,
    )} to ${formatDuration(s.retryBackoff.maxMs)}`,
  );
  if (s.startAt !== null) lines.push(`starts ${wording.at(s.startAt)}`);
  if (s.endBy !== null) {
    lines.push(
      `ends ${wording.at(s.endBy)}: ${s.atEnd === 'finish' ? 'nothing new starts, what is in flight finishes' : 'what is open is canceled'}`,
    );
  }
  if (s.windows.length > 0) {
    lines.push(
      `installs only inside ${windowsText(s.windows)}, device-local (tz label, else ${s.windowZone})${
        s.downloadAhead ? '; downloads ahead' : ''
      }`,
    );
  }
  lines.push(s.snapshot ? 'only the devices targeted now' : 'devices that match later join');
  if (s.supersede) lines.push('cancels queued deliveries of older rollouts on these devices');
  return lines;
}
