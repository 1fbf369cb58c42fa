import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from './connection.js';
import { ReconnectPolicy } from './reconnect.js';

/** A backoff that says which attempt it was asked for. */
const byAttempt = (attempt: number): number => 100 * (attempt + 1);

describe('ReconnectPolicy', () => {
  it('backs off more after each loss until a session registers', () => {
    const policy = new ReconnectPolicy(byAttempt);
    expect(policy.afterLoss(null)).toEqual({ kind: 'reconnect', delayMs: 100 });
    expect(policy.afterLoss(1006)).toEqual({ kind: 'reconnect', delayMs: 200 });
    policy.registered();
    expect(policy.afterLoss(null)).toEqual({ kind: 'reconnect', delayMs: 100 });
  });

  it('waits out a crash or restart once, instead of backing off', () => {
    const policy = new ReconnectPolicy(byAttempt);
    policy.down(5_000);
    expect(policy.afterLoss(null)).toEqual({ kind: 'reconnect', delayMs: 5_000 });
    expect(policy.afterLoss(null)).toEqual({ kind: 'reconnect', delayMs: 100 });
  });

  it('stops for good when replaced by a newer connection', () => {
    expect(new ReconnectPolicy(byAttempt).afterLoss(CLOSE_CODES.replaced)).toEqual({
      kind: 'stop',
      state: 'replaced',
    });
  });

  it('re-checks revoked credentials at once, and takes a second 4001 before registering as the answer', () => {
    const policy = new ReconnectPolicy(byAttempt);
    policy.down(5_000);
    expect(policy.afterLoss(CLOSE_CODES.credentials)).toEqual({ kind: 'reconnect', delayMs: 0 });
    expect(policy.afterLoss(CLOSE_CODES.credentials)).toEqual({ kind: 'stop', state: 'rejected' });
  });

  it('re-checks again after a session with the credentials registered', () => {
    const policy = new ReconnectPolicy(byAttempt);
    expect(policy.afterLoss(CLOSE_CODES.credentials)).toEqual({ kind: 'reconnect', delayMs: 0 });
    policy.registered();
    expect(policy.afterLoss(CLOSE_CODES.credentials)).toEqual({ kind: 'reconnect', delayMs: 0 });
  });
});
