import type { DeviceCredentials } from '@camfleet/client';
import type { DeviceContext } from './context.js';
import type { CredentialStore } from './credentials.js';

/**
 * Who the device says it is (spec: "Session and auth"): its own secret when it has one, stored or
 * obtained by enrolling; else the enrollment token it trades for one.
 */
export class DeviceAuth {
  /** A secret obtained by enrolling (kept even if the store failed to save it). */
  private enrolledSecret: string | null = null;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly store: CredentialStore,
    private readonly enrollToken: string | null,
  ) {}

  /** Its own secret, asked anew each time: a secret enrolled for meanwhile is the one to use. */
  secret(): string | null {
    return this.enrolledSecret ?? this.store.secretOf(this.ctx.id) ?? null;
  }

  /** What a session opens with: the secret, else the enrollment token; null when it has neither. */
  credentials(): DeviceCredentials | null {
    const secret = this.secret();
    if (secret !== null) return { secret };
    return this.enrollToken === null ? null : { enrollToken: this.enrollToken };
  }

  /** Keeps the secret enrollment gave: it is shown once, so a failure to store it is only a warning. */
  async adopt(secret: string): Promise<void> {
    this.enrolledSecret = secret;
    this.ctx.counters.enrollments++;
    this.ctx.emit({ type: 'enrolled', deviceId: this.ctx.id });
    try {
      await this.store.save(this.ctx.id, secret);
    } catch (error) {
      const message = `enrolled, but its secret was not saved: ${error instanceof Error ? error.message : String(error)}`;
      this.ctx.emit({ type: 'warning', deviceId: this.ctx.id, message });
    }
  }
}
