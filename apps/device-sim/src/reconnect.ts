import { CLOSE_CODES } from './connection.js';

/** What to do once a connection is lost: open the next one after `delayMs`, or stop for good. */
export type AfterLoss =
  | { kind: 'reconnect'; delayMs: number }
  | { kind: 'stop'; state: 'replaced' | 'rejected' };

/**
 * When a device reconnects (spec: "Session and auth", close codes): after a backoff that grows
 * until a session registers, after its downtime when it crashed or restarted, at once to re-check
 * its credentials on 4001, and never after 4002 or a second 4001 in a row. Pure; no I/O.
 */
export class ReconnectPolicy {
  private attempt = 0;
  /** Set by a crash or restart: the next reconnect waits this long instead of backing off. */
  private downtimeMs: number | null = null;
  /** Closed with 4001 (credentials revoked or rotated): the next session checks them once more. */
  private recheck = false;

  constructor(private readonly backoff: (attempt: number) => number) {}

  /** The device goes away on purpose (a crash, a restart) for this long. */
  down(ms: number): void {
    this.downtimeMs = ms;
  }

  /** A session registered: the credentials work, and the next loss backs off from the start. */
  registered(): void {
    this.recheck = false;
    this.attempt = 0;
  }

  afterLoss(closeCode: number | null): AfterLoss {
    // Another instance of this device is connected now: leave it be.
    if (closeCode === CLOSE_CODES.replaced) return { kind: 'stop', state: 'replaced' };
    let delayMs: number;
    if (closeCode === CLOSE_CODES.credentials) {
      // Revoked or rotated: check once, at once, whether the secret still works. Closed so again
      // before that session registered: take it as the answer.
      if (this.recheck) return { kind: 'stop', state: 'rejected' };
      this.recheck = true;
      delayMs = 0;
    } else {
      delayMs = this.downtimeMs ?? this.backoff(this.attempt++);
    }
    this.downtimeMs = null;
    return { kind: 'reconnect', delayMs };
  }
}
