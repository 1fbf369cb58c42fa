/** What one device has done; a fleet's counters are the sum over its devices. */
export interface DeviceCounters {
  offersReceived: number;
  /** Offers for an attempt already in progress or done here (not installed again). */
  duplicateOffers: number;
  installsStarted: number;
  /**
   * Installs the server accepted as applied: an `installed` report (before the restart that proves
   * the version), or a `succeeded` one with --no-reboot. A rolled-back install counts here too.
   */
  installsDone: number;
  /** Installs that ended with an accepted `failed` report. */
  installsFailed: number;
  /** Install attempts that went silent after `installing` (--hang-rate): neither done nor failed here. */
  installsHung: number;
  /**
   * Installs started for a delivery this device already reported installed/succeeded, with the
   * server accepting it and no rollback after. Must stay 0. (A retry after a rollback is no repeat.)
   */
  installsRepeated: number;
  /** Restarts into an installed patch (not crashes). */
  reboots: number;
  /** Restarts that came back on the old firmware (--rollback-rate); the server retries those. */
  rollbacks: number;
  /** Cancel requests honoured: the install stopped and `canceled` was reported. */
  cancelsAccepted: number;
  /** Cancel requests refused (--refuse-cancel-rate): the install carried on to its real outcome. */
  cancelsRefused: number;
  /**
   * Cancel requests for nothing cancellable here: an unknown or finished attempt, a hung one, one
   * already reporting its outcome or restarting, or a repeat of a request already decided.
   */
  cancelsIgnored: number;
  /** Reports the server refused (STALE_ATTEMPT, DELIVERY_FINISHED, NOT_FOUND, …): work on that offer stopped. */
  reportsRejected: number;
  /** Sessions opened (WebSocket connections with the device's secret; enrollment ones not included). */
  connects: number;
  /** Connections lost and replaced (fail-overs), crashes and blips included. */
  reconnects: number;
  crashes: number;
  /** Enrollment tokens traded for the device's own secret. */
  enrollments: number;
  /** Sessions closed by the server for a newer connection of the same device (4002): stopped for good. */
  replaced: number;
  /** Artifact downloads resumed (a `Range` request after an interruption). */
  downloadResumes: number;
  /** Artifact bytes received, all downloads and retransmissions included. */
  downloadBytes: number;
  /** Downloads whose bytes did not match the offer's sha256 or size: reported `failed`. */
  checksumFailures: number;
  /** Offers refused for their signature (--trusted-keys, --require-signature): reported `failed`. */
  signatureRefusals: number;
  /** Images rebuilt from an offer's delta instead of downloading the full artifact. */
  deltaInstalls: number;
  /** Deltas that failed to download or apply: the full artifact was downloaded instead. */
  deltaFallbacks: number;
}

export interface FleetSummary extends DeviceCounters {
  devices: number;
  /** Devices registered on a live connection right now. */
  connected: number;
  /** Devices stopped because the server refused their credentials. */
  rejectedDevices: number;
  /** How many devices run each firmware version. */
  firmware: Record<string, number>;
}

export function emptyCounters(): DeviceCounters {
  return {
    offersReceived: 0,
    duplicateOffers: 0,
    installsStarted: 0,
    installsDone: 0,
    installsFailed: 0,
    installsHung: 0,
    installsRepeated: 0,
    reboots: 0,
    rollbacks: 0,
    cancelsAccepted: 0,
    cancelsRefused: 0,
    cancelsIgnored: 0,
    reportsRejected: 0,
    connects: 0,
    reconnects: 0,
    crashes: 0,
    enrollments: 0,
    replaced: 0,
    downloadResumes: 0,
    downloadBytes: 0,
    checksumFailures: 0,
    signatureRefusals: 0,
    deltaInstalls: 0,
    deltaFallbacks: 0,
  };
}

export interface DeviceSnapshot {
  counters: DeviceCounters;
  connected: boolean;
  rejected: boolean;
  firmwareVersion: string;
}

export function summarize(devices: readonly DeviceSnapshot[]): FleetSummary {
  const total: FleetSummary = {
    devices: devices.length,
    connected: 0,
    rejectedDevices: 0,
    ...emptyCounters(),
    firmware: {},
  };
  for (const device of devices) {
    if (device.connected) total.connected++;
    if (device.rejected) total.rejectedDevices++;
    total.firmware[device.firmwareVersion] = (total.firmware[device.firmwareVersion] ?? 0) + 1;
    for (const key of Object.keys(device.counters) as (keyof DeviceCounters)[]) {
      total[key] += device.counters[key];
    }
  }
  return total;
}

/** One compact line, for a live TTY status or the final word. */
export function formatSummaryLine(s: FleetSummary): string {
  const parts = [
    `devices ${s.connected}/${s.devices} connected`,
    `offers ${s.offersReceived} (dup ${s.duplicateOffers})`,
    `installs ${s.installsStarted} started, ${s.installsDone} ok, ${s.installsFailed} failed`,
  ];
  if (s.installsHung > 0) parts.push(`${s.installsHung} hung`);
  if (s.installsRepeated > 0) parts.push(`${s.installsRepeated} REPEATED`);
  if (s.rollbacks > 0) parts.push(`${s.rollbacks} rolled back`);
  if (s.cancelsAccepted + s.cancelsRefused > 0) {
    parts.push(`cancels ${s.cancelsAccepted} honoured, ${s.cancelsRefused} refused`);
  }
  if (s.downloadBytes > 0 || s.downloadResumes > 0) {
    parts.push(`downloaded ${formatBytes(s.downloadBytes)} (${s.downloadResumes} resumed)`);
  }
  if (s.deltaInstalls + s.deltaFallbacks > 0)
    parts.push(`deltas ${s.deltaInstalls} applied, ${s.deltaFallbacks} fell back to the full image`);
  if (s.checksumFailures > 0) parts.push(`${s.checksumFailures} checksum failures`);
  if (s.signatureRefusals > 0) parts.push(`${s.signatureRefusals} signature refusals`);
  if (s.reportsRejected > 0) parts.push(`${s.reportsRejected} reports rejected`);
  if (s.reconnects > 0) parts.push(`${s.reconnects} reconnects`);
  if (s.enrollments > 0) parts.push(`${s.enrollments} enrolled`);
  if (s.replaced > 0) parts.push(`${s.replaced} replaced`);
  if (s.rejectedDevices > 0) parts.push(`${s.rejectedDevices} rejected`);
  return parts.join(' · ');
}

/** 1536 → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
