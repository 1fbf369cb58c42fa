/**
 * When to send a `downloading` progress report: each time the download crosses another quarter of
 * the file (25%, 50%, 75%, 100%), or when at least `intervalMs` passed since the last one and bytes
 * arrived meanwhile; never per chunk.
 */
export class ProgressThrottle {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lastQuarter = 0;
  private lastBytes = 0;
  private lastAt: number;

  constructor(
    private readonly size: number,
    options: { intervalMs?: number | undefined; now?: () => number } = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.lastAt = this.now();
  }

  /** Whether `received` bytes are worth a report now (it is then taken as reported). */
  due(received: number): boolean {
    const quarter = this.quarterOf(received);
    if (received < this.lastBytes) {
      // The download started over (the server sent the whole file again): count from there.
      this.lastQuarter = quarter;
      this.lastBytes = received;
      return false;
    }
    const now = this.now();
    const due =
      quarter > this.lastQuarter || (received > this.lastBytes && now - this.lastAt >= this.intervalMs);
    if (!due) return false;
    this.lastQuarter = quarter;
    this.lastBytes = received;
    this.lastAt = now;
    return true;
  }

  private quarterOf(received: number): number {
    if (this.size <= 0) return 0;
    return Math.min(4, Math.floor((4 * received) / this.size));
  }
}

/**
 * Sends progress reports one at a time, so they reach the server in order without piling up: a
 * count that comes while one is in flight waits, and a newer count replaces it (only the latest
 * matters). Stops sending once `signal` aborts.
 */
export class ProgressSender {
  private queued: number | null = null;
  private pumping = false;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: (bytes: number) => Promise<void>,
    private readonly signal: AbortSignal,
  ) {}

  push(bytes: number): void {
    this.queued = bytes;
    if (!this.pumping) this.sending = this.pump();
  }

  /** Resolves once the report in flight, and the one waiting, if any, are sent. */
  settled(): Promise<void> {
    return this.sending;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queued !== null && !this.signal.aborted) {
        const bytes = this.queued;
        this.queued = null;
        await this.send(bytes);
      }
    } finally {
      this.pumping = false;
    }
  }
}
