/**
 * Decides when a simulation has gone quiet: nothing in progress and no new work for `idleMs`.
 * Pure apart from the clock, which is passed in.
 */
export class IdleTracker {
  private lastActivityAt: number;

  constructor(
    private readonly idleMs: number,
    now: number,
  ) {
    this.lastActivityAt = now;
  }

  /** Something happened that means work may follow (an offer, a registration, a report). */
  touch(now: number): void {
    this.lastActivityAt = Math.max(this.lastActivityAt, now);
  }

  /** True once `busy` is 0 and nothing was touched for `idleMs`. Being busy counts as activity. */
  isIdle(busy: number, now: number): boolean {
    if (busy > 0) {
      this.touch(now);
      return false;
    }
    return now - this.lastActivityAt >= this.idleMs;
  }
}
