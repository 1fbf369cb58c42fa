import { createHash } from 'node:crypto';
import { type LimitInfo, LimitRefused } from '@camfleet/contracts';
import type { Logger } from 'pino';
import { addressKey } from './admission.js';
import type { AuditLog } from './fleet/audit.js';
import type { Metrics } from './metrics.js';
import type { KeySpace } from './redis/keys.js';
import type { Scripts } from './redis/script.js';
import { authFailure, authThrottle } from './redis/scripts/auth.js';

export interface AuthThrottleLimits {
  /** Failed logins one source address may make per window, whatever it claims to be. */
  perAddress: number;
  /** Failed logins for one claimed identity (device id, "admin token") from one address per window. */
  perIdentity: number;
  windowMs: number;
}

/** What a login attempt was for, as metrics and the audit log name it. */
export type CredentialKind =
  | 'admin_token'
  | 'device_secret'
  | 'enroll_token'
  | 'artifact_device'
  | 'legacy_token';

export interface LoginAttempt {
  address: string;
  /** Who the client claims to be: a device id, or the kind of token for a bare token. */
  identity: string;
  kind: CredentialKind;
}

/**
 * Failed logins, counted in Redis so every pod sees them: per source address (an IPv6 /64) and per
 * (address, claimed identity), never per identity alone, so failures from one address cannot lock
 * a real device or operator out from another. Past a limit, the address (or pair) is refused before
 * any credential is checked, with the time until its window ends. Failures are counted and audited.
 *
 * The check reads and a failure counts: logins that succeed cost one read and nothing else (a
 * fleet reconnecting, a CLI's parallel calls). Attempts already in flight when a limit is reached
 * are still checked; the per-address cap on sockets waiting to authenticate bounds that burst.
 */
export class AuthThrottle {
  constructor(
    private readonly deps: {
      scripts: Scripts;
      keys: KeySpace;
      audit: AuditLog;
      metrics: Metrics;
      log: Logger;
    },
    private readonly limits: AuthThrottleLimits,
  ) {}

  /** Throws LimitRefused (with Retry-After) when the attempt's address or pair is throttled. */
  async check(attempt: LoginAttempt): Promise<void> {
    const throttled = await this.deps.scripts.run(authThrottle, {
      ...this.keysOf(attempt),
      perAddress: this.limits.perAddress,
      perIdentity: this.limits.perIdentity,
    });
    if (!throttled) return;
    const retryAfterSeconds = Math.max(1, Math.ceil(throttled.retryAfterMs / 1000));
    const limit: LimitInfo =
      throttled.by === 'address'
        ? { name: 'auth_failures_per_address', knob: 'FLEET_AUTH_FAILURES_PER_ADDRESS', retryAfterSeconds }
        : { name: 'auth_failures_per_identity', knob: 'FLEET_AUTH_FAILURES_PER_IDENTITY', retryAfterSeconds };
    this.deps.metrics.limitRefusals.inc({ limit: limit.name });
    throw new LimitRefused(limit, `too many failed logins; try again in ${retryAfterSeconds} s`);
  }

  /** Counts and audits one refused credential (the reason is for the log and audit, never the client). */
  async failed(attempt: LoginAttempt, reason: string): Promise<void> {
    this.deps.metrics.authFailures.inc({ kind: attempt.kind });
    try {
      await this.deps.scripts.run(authFailure, { ...this.keysOf(attempt), windowMs: this.limits.windowMs });
      await this.deps.audit.record({
        actor: attempt.identity,
        role: 'none',
        action: `auth.${attempt.kind}`,
        input: JSON.stringify({ address: attempt.address }),
        ok: false,
        error: reason,
      });
    } catch (err) {
      this.deps.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'auth failure not recorded',
      );
    }
  }

  private keysOf(attempt: LoginAttempt) {
    const digest = createHash('sha256').update(attempt.identity).digest('hex').slice(0, 24);
    return this.deps.keys.authFailures(addressKey(attempt.address), digest);
  }
}
