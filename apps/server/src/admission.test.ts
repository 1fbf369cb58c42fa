import { EventEmitter } from 'node:events';
import type { Principal } from '@camfleet/contracts';
import { describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { Admission, addressKey } from './admission.js';

/** Just what Admission touches of a socket: its state, `once('close')` and `close()`. */
function fakeSocket(readyState: number): WebSocket {
  const socket = Object.assign(new EventEmitter(), {
    OPEN: 1,
    readyState,
    close: vi.fn(),
  });
  return socket as unknown as WebSocket;
}

const LIMITS = {
  authDeadlineMs: 60_000,
  maxUnauthenticated: 100,
  maxUnauthenticatedPerAddress: 2,
  maxConnectionsPerToken: 2,
  maxSubscriptionsPerPrincipal: 5,
};
const ADMIN: Principal = { kind: 'admin', name: 'ops', role: 'viewer' };

describe('addressKey', () => {
  it('keeps IPv4 addresses and counts IPv6 ones by their /64', () => {
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe('Admission', () => {
  it('counts waiting sockets per /64, and frees a place when one authenticates or closes', () => {
    const admission = new Admission(LIMITS, () => undefined);
    const first = fakeSocket(1);
    admission.awaitCredentials(first, '2001:db8:1:2::a');
    admission.awaitCredentials(fakeSocket(1), '2001:db8:1:2::b');
    // A third address of the same /64 is refused; another /64 is not.
    expect(admission.refuseUpgrade('2001:db8:1:2::c')?.limit.name).toBe('unauthenticated_per_address');
    expect(admission.refuseUpgrade('2001:db8:1:3::c')).toBeNull();
    admission.enter(first, ADMIN);
    expect(admission.refuseUpgrade('2001:db8:1:2::c')).toBeNull();
    expect(admission.waitingSockets).toBe(1);
  });

  it('gives a socket that closed while its credentials were checked no place to hold', () => {
    const admission = new Admission(LIMITS, () => undefined);
    for (let i = 0; i < 5; i++) {
      const closed = fakeSocket(3);
      admission.awaitCredentials(closed, '10.0.0.1');
      closed.emit('close');
      expect(() => admission.enter(closed, ADMIN)).toThrow(/connection closed/);
    }
    // The token's places are all still free.
    expect(() => admission.enter(fakeSocket(1), ADMIN)).not.toThrow();
    expect(() => admission.enter(fakeSocket(1), ADMIN)).not.toThrow();
    expect(() => admission.enter(fakeSocket(1), ADMIN)).toThrow(/connections open on this pod/);
    expect(admission.waitingSockets).toBe(0);
  });
});
