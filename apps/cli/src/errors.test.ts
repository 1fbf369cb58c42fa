import { describe, expect, it } from 'vitest';
import { CliError, describeError, EXIT, exitCodeOf, isUnreachable, UsageError } from './errors.js';
import { networkError, serverError } from './test-helpers.js';

describe('exitCodeOf', () => {
  it.each([
    ['NOT_FOUND', 'NOT_FOUND', EXIT.NOT_FOUND],
    ['UNAUTHORIZED', 'UNAUTHORIZED', EXIT.AUTH],
    ['FORBIDDEN', 'FORBIDDEN', EXIT.AUTH],
    ['CONFLICT', 'CONFLICT', EXIT.CONFLICT],
    ['CONFLICT', 'STALE_ATTEMPT', EXIT.CONFLICT],
    ['CONFLICT', 'DELIVERY_FINISHED', EXIT.CONFLICT],
    ['CONFLICT', 'INVALID_TRANSITION', EXIT.CONFLICT],
    ['SERVICE_UNAVAILABLE', 'UNAVAILABLE', EXIT.UNREACHABLE],
    ['BAD_REQUEST', 'INVALID_INPUT', EXIT.USAGE],
  ])('maps tRPC %s / fleetCode %s to %i', (code, fleetCode, exit) => {
    expect(exitCodeOf(serverError(code, fleetCode, 'boom'))).toBe(exit);
  });

  it.each([
    ['NOT_FOUND', EXIT.NOT_FOUND],
    ['UNAUTHORIZED', EXIT.AUTH],
    ['FORBIDDEN', EXIT.AUTH],
    ['CONFLICT', EXIT.CONFLICT],
    ['BAD_REQUEST', EXIT.USAGE],
    ['SERVICE_UNAVAILABLE', EXIT.UNREACHABLE],
    ['INTERNAL_SERVER_ERROR', EXIT.FAILURE],
  ])('falls back to the tRPC code %s → %i without a fleetCode', (code, exit) => {
    expect(exitCodeOf(serverError(code, null, 'boom'))).toBe(exit);
  });

  it('maps network failures to 7', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET']) {
      const error = networkError(code);
      expect(isUnreachable(error)).toBe(true);
      expect(exitCodeOf(error)).toBe(EXIT.UNREACHABLE);
    }
  });

  it('keeps the exit code of CLI errors and maps anything else to 1', () => {
    expect(exitCodeOf(new UsageError('bad'))).toBe(2);
    expect(exitCodeOf(new CliError(3, 'late'))).toBe(3);
    expect(exitCodeOf(new Error('weird'))).toBe(1);
    expect(exitCodeOf('a string')).toBe(1);
  });
});

describe('describeError', () => {
  it('gives one line per kind of failure', () => {
    expect(describeError(networkError('ECONNREFUSED'), 'http://h:1')).toBe(
      'cannot reach the fleet server at http://h:1 (ECONNREFUSED)',
    );
    expect(describeError(serverError('NOT_FOUND', 'NOT_FOUND', 'rollout ro_x not found'))).toBe(
      'not found: rollout ro_x not found',
    );
    expect(describeError(serverError('UNAUTHORIZED', 'UNAUTHORIZED', 'admin token required'))).toMatch(
      /^access denied: admin token required/,
    );
    expect(describeError(new UsageError('first\nsecond'))).toBe('first');
  });

  it('spells out validation issues the server attached', () => {
    const error = serverError('BAD_REQUEST', null, '[{"long":"json"}]');
    Object.assign(error.data ?? {}, { zodIssues: { formErrors: [], fieldErrors: { patchId: ['bad id'] } } });
    expect(describeError(error)).toBe('invalid request: patchId: bad id');
  });
});
