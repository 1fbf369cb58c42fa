import { setTimeout as sleep } from 'node:timers/promises';
import type { Offer, ReportInput } from '@camfleet/contracts';
import type { Artifacts } from './artifact.js';
import { type DeviceContext, refOf } from './context.js';
import type { DeviceOptions } from './device.js';
import { type InstallPlan, planInstall } from './faults.js';
import type { DeliveryLedger } from './ledger.js';
import type { Work } from './offers.js';
import type { Reports } from './reports.js';
import type { Session } from './session.js';

export interface InstallOptions extends Pick<DeviceOptions, 'installHold' | 'afterCrashHold'> {
  /** Drawn once per device (--slow-rate): its installs take longer. */
  slow: boolean;
}

/** The rest of the device an install works with. */
export interface InstallParts {
  session: Pick<Session, 'ready' | 'crash' | 'restart'>;
  reports: Reports;
  ledger: DeliveryLedger;
  artifacts: Artifacts;
}

/**
 * How downloading and applying went: `stopped` when a progress report was refused or the attempt
 * hung; `fromDelta` when the image was rebuilt from the offer's delta.
 */
type Applied =
  | { kind: 'applied'; fromDelta: boolean }
  | { kind: 'failed'; error: string }
  | { kind: 'stopped' };

const FAILURE_MESSAGE = 'simulated install failure';

/**
 * One attempt, from offer to outcome (spec: "Install"): download and verify, apply (with the
 * simulated faults drawn for it: slowness, failure, a hang, a crash mid-apply), report the outcome,
 * then restart into the patch, or come back on the old version when the bootloader rolls back.
 */
export class Installer {
  constructor(
    private readonly ctx: DeviceContext,
    private readonly parts: InstallParts,
    private readonly options: InstallOptions,
  ) {}

  /** Works on the attempt until it ends, then calls its `end` with the final report that landed. */
  async run(work: Work): Promise<void> {
    const { offer } = work;
    const { counters } = this.ctx;
    const { reports, ledger } = this.parts;
    // `signal` abandons the attempt (superseded, device stopped); `steps` also ends on a cancel.
    const signal = AbortSignal.any([work.controller.signal, this.ctx.lifetime]);
    const steps = AbortSignal.any([signal, work.cancel.signal]);
    counters.installsStarted++;
    const ref = refOf(this.ctx.id, offer);
    this.ctx.emit({ ...ref, type: 'install-started', version: offer.patch.version });
    const plan = planInstall(this.ctx.faults, this.options.slow, this.ctx.random);
    const base = { deliveryId: offer.deliveryId, attempt: offer.attempt };
    const version = offer.patch.version;
    let finalReport: ReportInput | null = null;
    try {
      const applied = await this.apply(work, plan, steps);
      if (applied.kind === 'stopped') return;
      work.phase = 'reporting';
      const fromDelta = applied.kind === 'applied' && applied.fromDelta ? { delta: true } : {};
      if (applied.kind === 'failed') {
        finalReport = { ...base, status: 'failed', error: applied.error };
      } else if (this.ctx.faults.reboot) {
        finalReport = { ...base, status: 'installed', progress: 100, ...fromDelta };
      } else {
        // Applied in place: it runs the patch now.
        this.runs(offer);
        finalReport = { ...base, status: 'succeeded', progress: 100, firmwareVersion: version, ...fromDelta };
      }
      const outcome = await reports.send(finalReport, signal, offer);
      if (outcome.kind !== 'landed') {
        // Refused: the staged image is discarded (with a restart ahead, it never runs).
        finalReport = null;
        return;
      }
      if (applied.kind === 'failed') {
        counters.installsFailed++;
        reports.complete(offer, 'failed', applied.error);
        this.ctx.emit({ ...ref, type: 'install-failed', error: applied.error });
        return;
      }
      counters.installsDone++;
      ledger.markAccepted(offer.deliveryId, offer.attempt);
      this.ctx.emit({ ...ref, type: 'install-done', version });
      if (finalReport.status === 'succeeded') {
        reports.complete(offer, 'succeeded');
        return;
      }
      // The server now waits for the device to prove the version by registering with it.
      work.phase = 'rebooting';
      const running = await this.reboot(offer, plan.rollsBack, signal);
      if (running === null) return;
      reports.complete(offer, plan.rollsBack ? 'rolled-back' : 'installed');
      this.ctx.emit({ ...ref, type: 'rebooted', version: running, rolledBack: plan.rollsBack });
    } catch (error) {
      if (!steps.aborted) throw error;
      finalReport = signal.aborted ? null : await this.reportCanceled(work, signal);
    } finally {
      work.end(finalReport);
    }
  }

  /**
   * Checks the signature, downloads (the artifact, verified; or a simulated wait without one) and
   * applies, reporting progress. `stopped`: a progress report was refused, or the attempt hung.
   * Throws once `steps` aborts (superseded, stopped, or a cancel honoured).
   */
  private async apply(work: Work, plan: InstallPlan, steps: AbortSignal): Promise<Applied> {
    const { offer } = work;
    const { artifacts } = this.parts;
    const refusal = artifacts.signatureRefusal(offer);
    if (refusal !== null) return { kind: 'failed', error: refusal };
    const progress = async (
      status: 'downloading' | 'installing',
      percent: number,
      bytes?: number,
    ): Promise<boolean> => {
      const input: ReportInput = {
        deliveryId: offer.deliveryId,
        attempt: offer.attempt,
        status,
        progress: percent,
        ...(bytes === undefined ? {} : { bytes }),
      };
      const outcome = await this.parts.reports.send(input, steps, offer);
      if (outcome.kind === 'aborted') steps.throwIfAborted();
      return outcome.kind === 'landed';
    };
    const { artifact } = offer.patch;
    // A phase is reported when it takes time, as a camera's updater would: an instant install of
    // a patch without a file goes straight to its outcome (one report instead of three).
    const downloads = artifact !== null || plan.downloadMs > 0;
    const applies =
      plan.applyMs > 0 || plan.hangs || plan.crashAtMs !== null || this.options.installHold !== undefined;
    if (downloads && !(await progress('downloading', 0, artifact ? 0 : undefined)))
      return { kind: 'stopped' };
    let fromDelta = false;
    if (artifact) {
      const downloading = (percent: number, bytes: number) => progress('downloading', percent, bytes);
      // A delta for the image it runs, if it can use one; one that fails to apply falls back to the
      // full artifact in the same attempt.
      const delta = await artifacts.usableDelta(offer);
      const rebuilt = delta ? await artifacts.fromDelta(offer, delta, steps, downloading) : null;
      if (rebuilt?.kind === 'stopped') return rebuilt;
      if (rebuilt?.kind === 'failed') {
        this.ctx.counters.deltaFallbacks++;
        this.ctx.emit({ ...refOf(this.ctx.id, offer), type: 'delta-failed', error: rebuilt.error });
      }
      fromDelta = rebuilt?.kind === 'verified';
      if (fromDelta) this.ctx.counters.deltaInstalls++;
      if (!fromDelta) {
        const downloaded = await artifacts.download(offer, artifact, plan.downloadCuts, steps, downloading);
        if (downloaded.kind !== 'verified') return downloaded;
      }
    } else {
      await sleep(plan.downloadMs, undefined, { signal: steps });
    }
    // The offer's maintenance window (spec: offers): an install begins only before it closes; past
    // that the attempt is left to the server, which offers it again in the next window.
    const window = this.ctx.faults.installWindow === 'obey' ? offer.installWindow : null;
    // Downloaded ahead of its window: the install waits for it to open.
    if (window !== null && window.opensAt > Date.now())
      await sleep(window.opensAt - Date.now(), undefined, { signal: steps });
    if (window !== null && Date.now() >= window.closesAt) return { kind: 'stopped' };
    work.phase = 'installing';
    if (applies && !(await progress('installing', 50))) return { kind: 'stopped' };
    if (plan.hangs) {
      // Stuck in the updater: nothing more is reported for this attempt (a re-offer of it, or a
      // cancel, is ignored). It stays busy until the server's ack timeout should have failed it,
      // or a newer attempt supersedes it; it was never installed, so that one is no repeat.
      work.phase = 'hung';
      this.ctx.counters.installsHung++;
      this.parts.reports.complete(offer, 'hung');
      this.ctx.emit({ ...refOf(this.ctx.id, offer), type: 'install-hung', version: offer.patch.version });
      await sleep(offer.ackTimeoutMs, undefined, { signal: steps });
      return { kind: 'stopped' };
    }
    await this.options.installHold?.(steps);
    if (plan.crashAtMs !== null) {
      await sleep(plan.crashAtMs, undefined, { signal: steps });
      this.parts.session.crash();
      await this.options.afterCrashHold?.(steps);
      await sleep(plan.applyMs - plan.crashAtMs, undefined, { signal: steps });
    } else {
      await sleep(plan.applyMs, undefined, { signal: steps });
    }
    return plan.fails ? { kind: 'failed', error: FAILURE_MESSAGE } : { kind: 'applied', fromDelta };
  }

  /** The device now runs the offer's patch (and its image, when it keeps images). */
  private runs(offer: Offer): void {
    const { firmware } = this.ctx;
    firmware.version = offer.patch.version;
    firmware.image = offer.patch.artifact?.sha256 ?? firmware.image;
  }

  /** Stops on the server's request and says so; the final report to remember, or null if refused. */
  private async reportCanceled(work: Work, signal: AbortSignal): Promise<ReportInput | null> {
    work.phase = 'canceling';
    const { offer } = work;
    const report: ReportInput = { deliveryId: offer.deliveryId, attempt: offer.attempt, status: 'canceled' };
    // A STALE_ATTEMPT or DELIVERY_FINISHED answer is fine: counted as reportsRejected, as ever.
    const outcome = await this.parts.reports.send(report, signal, offer);
    if (outcome.kind !== 'landed') return null;
    this.parts.reports.complete(offer, 'canceled');
    this.ctx.emit({ type: 'install-canceled', ...refOf(this.ctx.id, offer) });
    return report;
  }

  /**
   * Restarts into an installed patch: drops the connection, stays away `rebootMs`, then comes back
   * (on the next URL, as after any loss) and registers with the version it runs: the patch's, or
   * the old one when the bootloader rolled back. Resolves to that version, or null if the attempt
   * was abandoned meanwhile (superseded, device stopped).
   */
  private async reboot(offer: Offer, rollsBack: boolean, signal: AbortSignal): Promise<string | null> {
    const { counters, firmware } = this.ctx;
    counters.reboots++;
    if (rollsBack) {
      // Marked before going away, so the server's retry offer, however quick, is no repeat.
      counters.rollbacks++;
      this.parts.ledger.markRolledBack(offer.deliveryId, offer.attempt);
    } else {
      this.runs(offer);
    }
    const running = firmware.version;
    // The ledger is kept on flash: it survives the restart.
    this.parts.session.restart(this.ctx.faults.rebootMs, 'restarting into the new firmware');
    return (await this.parts.session.ready(signal)) ? running : null;
  }
}
