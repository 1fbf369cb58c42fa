import { TRPCClientError } from '@camfleet/client';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import {
  classifyFailure,
  describeFailure,
  isCredentialFailure,
  isReconnectFrame,
  rejectionOfFrame,
} from './outcome.js';

function serverError(code: string, fleetCode: string | null): TRPCClientError<never> {
  return TRPCClientError.from({ error: { message: 'nope', code: -32000, data: { code, fleetCode } } });
}

describe('classifyFailure', () => {
  it.each([
    ['CONFLICT', 'STALE_ATTEMPT', 'final'],
    ['CONFLICT', 'DELIVERY_FINISHED', 'final'],
    ['NOT_FOUND', 'NOT_FOUND', 'final'],
    ['CONFLICT', 'INVALID_TRANSITION', 'final'],
    ['BAD_REQUEST', null, 'final'],
    ['FORBIDDEN', 'FORBIDDEN', 'final'],
    ['SERVICE_UNAVAILABLE', 'UNAVAILABLE', 'transient'],
    ['INTERNAL_SERVER_ERROR', null, 'transient'],
    ['UNAUTHORIZED', 'UNAUTHORIZED', 'credentials'],
    ['UNAUTHORIZED', null, 'credentials'],
  ])('%s/%s is %s', (code, fleetCode, kind) => {
    expect(classifyFailure(serverError(code, fleetCode))).toBe(kind);
  });

  it('treats transport failures as transient', () => {
    expect(classifyFailure(TRPCClientError.from(new Error('WebSocket closed')))).toBe('transient');
    expect(classifyFailure(new Error('boom'))).toBe('transient');
  });

  it('describes errors by code', () => {
    expect(describeFailure(serverError('CONFLICT', 'STALE_ATTEMPT'))).toBe('STALE_ATTEMPT: nope');
    expect(describeFailure(new Error('boom'))).toBe('boom');
  });
});

describe('isCredentialFailure (answers to enroll and register)', () => {
  it.each([
    ['UNAUTHORIZED', 'UNAUTHORIZED', true],
    ['UNAUTHORIZED', null, true],
    ['FORBIDDEN', 'FORBIDDEN', true],
    ['FORBIDDEN', null, true],
    ['CONFLICT', 'CONFLICT', false],
    ['SERVICE_UNAVAILABLE', 'UNAVAILABLE', false],
  ])('%s/%s: %s', (code, fleetCode, expected) => {
    expect(isCredentialFailure(serverError(code, fleetCode))).toBe(expected);
  });

  it('is not a transport failure', () => {
    expect(isCredentialFailure(TRPCClientError.from(new Error('WebSocket closed')))).toBe(false);
  });
});

describe('rejectionOfFrame', () => {
  const shape = { message: 'device credentials refused', code: -32001, data: { code: 'UNAUTHORIZED' } };

  it('spots a superjson-wrapped rejection (what tRPC sends when createContext throws)', () => {
    const frame = JSON.stringify({ id: null, error: superjson.serialize(shape) });
    expect(rejectionOfFrame(frame)).toBe('device credentials refused');
  });

  it('spots a plain rejection', () => {
    expect(rejectionOfFrame(JSON.stringify({ id: null, error: shape }))).toBe('device credentials refused');
  });

  it('ignores everything else', () => {
    expect(rejectionOfFrame('PONG')).toBeNull();
    expect(rejectionOfFrame(JSON.stringify({ id: 1, error: shape }))).toBeNull();
    const other = { ...shape, data: { code: 'PARSE_ERROR' } };
    expect(rejectionOfFrame(JSON.stringify({ id: null, error: other }))).toBeNull();
    expect(rejectionOfFrame('{"id":null,')).toBeNull();
  });
});

describe('isReconnectFrame', () => {
  it('spots the reconnect notice only', () => {
    expect(isReconnectFrame('{"id":null,"method":"reconnect"}')).toBe(true);
    expect(isReconnectFrame('{"id":3,"method":"reconnect"}')).toBe(false);
    expect(isReconnectFrame('{"id":null,"error":{}}')).toBe(false);
    expect(isReconnectFrame('PING')).toBe(false);
  });
});
