import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import {
  type LimitInfo,
  type LimitName,
  LimitRefused,
  limitError,
  type Principal,
  type SubscriptionPlaces,
} from '@camfleet/contracts';
import { TRPCError } from '@trpc/server';
import type { WebSocket } from 'ws';

export interface AdmissionLimits {
  /** A socket that has not authenticated by then is closed (4003). */
  authDeadlineMs: number;
  /** Sockets waiting to authenticate, on this pod and from one source address. */
  maxUnauthenticated: number;
  maxUnauthenticatedPerAddress: number;
  /** Open WebSocket connections of one admin token on this pod. */
  maxConnectionsPerToken: number;
  /** Open subscriptions of one admin token on this pod, across its connections. */
  maxSubscriptionsPerPrincipal: number;
}

/** Each admission limit with the environment variable that sets it. */
const LIMITS = {
  unauthenticated_per_pod: 'FLEET_MAX_UNAUTHENTICATED',
  unauthenticated_per_address: 'FLEET_MAX_UNAUTHENTICATED_PER_ADDRESS',
  connections_per_token: 'FLEET_MAX_CONNECTIONS_PER_TOKEN',
  auth_deadline: 'FLEET_AUTH_DEADLINE_MS',
} as const satisfies Partial<Record<LimitName, string>>;

export function limitInfo(name: keyof typeof LIMITS, retryAfterSeconds: number | null = null): LimitInfo {
  return { name, knob: LIMITS[name], retryAfterSeconds };
}

/** Close code of a socket that did not authenticate in time. */
export const AUTH_DEADLINE_CLOSE = 4003;

/** The client's address as the socket sees it (`::ffff:10.0.0.1` is 10.0.0.1). */
export function addressOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * What per-address limits count by: an IPv4 address, or an IPv6 address's /64 (one host usually
 * has a whole /64, and could rotate through it to dodge a per-address limit).
 */
export function addressKey(address: string): string {
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group || '0', 16).toString(16))
    .join(':')}::/64`;
}

interface PrincipalSlot {
  connections: number;
  subscriptions: SubscriptionPlaces;
}

/**
 * Who may hold what on this pod, so that one client cannot starve the others: sockets waiting to
 * authenticate (per pod, per address, and for how long) and, once authenticated, connections per
 * admin token and subscriptions per principal. Each refusal names its limit; `onRefused` counts it.
 */
export class Admission {
  private unauthenticated = 0;
  private readonly waitingByAddress = new Map<string, number>();
  private readonly waiting = new WeakMap<WebSocket, () => void>();
  private readonly principals = new Map<string, PrincipalSlot>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onRefused: (limit: LimitName) => void,
  ) {}

  /** Before a WebSocket upgrade: null to go on, or the limit that refuses it. */
  refuseUpgrade(address: string): LimitRefused | null {
    const fromAddress = this.waitingByAddress.get(addressKey(address)) ?? 0;
    let refusal: LimitRefused | null = null;
    if (this.unauthenticated >= this.limits.maxUnauthenticated)
      refusal = new LimitRefused(
        limitInfo('unauthenticated_per_pod', 1),
        `${this.limits.maxUnauthenticated} sockets are waiting to authenticate on this pod`,
      );
    else if (fromAddress >= this.limits.maxUnauthenticatedPerAddress)
      refusal = new LimitRefused(
        limitInfo('unauthenticated_per_address', 1),
        `${this.limits.maxUnauthenticatedPerAddress} sockets from this address are waiting to authenticate`,
      );
    if (refusal) this.onRefused(refusal.limit.name);
    return refusal;
  }

  /**
   * A fresh socket: counted as waiting until it authenticates or closes, and closed with 4003 if
   * it has not authenticated within the deadline.
   */
  awaitCredentials(ws: WebSocket, clientAddress: string): void {
    const address = addressKey(clientAddress);
    this.unauthenticated++;
    this.waitingByAddress.set(address, (this.waitingByAddress.get(address) ?? 0) + 1);
    let waiting = true;
    let deadline: NodeJS.Timeout | undefined;
    const done = () => {
      if (!waiting) return;
      waiting = false;
      clearTimeout(deadline);
      // Authenticated (or closed): nothing of the wait stays with the connection.
      ws.off('close', done);
      this.waiting.delete(ws);
      this.unauthenticated--;
      const left = (this.waitingByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.waitingByAddress.set(address, left);
      else this.waitingByAddress.delete(address);
    };
    deadline = setTimeout(() => {
      this.onRefused('auth_deadline');
      // Its place is free at once, whether or not the peer answers the close handshake.
      done();
      ws.close(AUTH_DEADLINE_CLOSE, `not authenticated within ${this.limits.authDeadlineMs} ms`);
    }, this.limits.authDeadlineMs);
    deadline.unref();
    this.waiting.set(ws, done);
    ws.once('close', done);
  }

  /**
   * An authenticated connection of `principal`: refused past the per-token limit; otherwise it
   * holds its place until the socket closes. Returns the principal's subscription places here.
   */
  enter(ws: WebSocket, principal: Principal): SubscriptionPlaces | undefined {
    this.waiting.get(ws)?.();
    // Closed while its credentials were checked: its close has been and gone, so it must hold nothing.
    if (ws.readyState !== ws.OPEN)
      throw new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'connection closed' });
    const key = principalKey(principal);
    if (!key) return undefined;
    const slot = this.principals.get(key) ?? {
      connections: 0,
      subscriptions: { open: 0, max: this.limits.maxSubscriptionsPerPrincipal },
    };
    if (principal.kind === 'admin' && slot.connections >= this.limits.maxConnectionsPerToken) {
      this.onRefused('connections_per_token');
      throw limitError(
        limitInfo('connections_per_token'),
        `token ${principal.name} has ${slot.connections} connections open on this pod`,
      );
    }
    slot.connections++;
    this.principals.set(key, slot);
    ws.once('close', () => {
      slot.connections--;
      if (slot.connections === 0 && this.principals.get(key) === slot) this.principals.delete(key);
    });
    return slot.subscriptions;
  }

  /** Sockets waiting to authenticate here (tests, metrics). */
  get waitingSockets(): number {
    return this.unauthenticated;
  }
}

/**
 * One key per principal that may hold several connections here: an admin token. A device holds one
 * connection (a newer one replaces it), so its per-connection limit is its whole budget, and an
 * idle fleet pays nothing per camera for this map.
 */
function principalKey(principal: Principal): string | null {
  return principal.kind === 'admin' ? `admin:${principal.name}` : null;
}
