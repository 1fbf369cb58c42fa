import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** An address a name resolved to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses (dns.lookup: what connecting would use). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

/** Ranges a webhook may not reach unless the pod allows it, by the name a refusal gives. */
const RANGES: ReadonlyArray<[string, ReadonlyArray<[string, number]>]> = [
  [
    'unspecified',
    [
      ['0.0.0.0', 8],
      ['::', 128],
    ],
  ],
  [
    'loopback',
    [
      ['127.0.0.0', 8],
      ['::1', 128],
    ],
  ],
  [
    'private',
    [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ],
  ],
  ['shared (carrier-grade NAT)', [['100.64.0.0', 10]]],
  [
    'link-local',
    [
      ['169.254.0.0', 16],
      ['fe80::', 10],
    ],
  ],
  ['unique-local', [['fc00::', 7]]],
  [
    'multicast',
    [
      ['224.0.0.0', 4],
      ['ff00::', 8],
    ],
  ],
  [
    'reserved',
    [
      ['240.0.0.0', 4],
      ['192.0.0.0', 24],
      ['198.18.0.0', 15],
      ['::', 96],
      ['64:ff9b:1::', 48],
    ],
  ],
];

function blockListOf(ranges: ReadonlyArray<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges)
    list.addSubnet(network, prefix, isIP(network) === 6 ? 'ipv6' : 'ipv4');
  return list;
}

const BLOCKED = RANGES.map(([name, ranges]) => ({ name, list: blockListOf(ranges) }));
const NAT64 = blockListOf([['64:ff9b::', 96]]);

/**
 * A CIDR (`10.1.0.0/16`, `fd00::/8`) or a single address; throws a readable Error otherwise.
 * What FLEET_WEBHOOK_ALLOW_CIDRS holds.
 */
export function parseCidr(text: string): [string, number] {
  const [network = '', prefix, extra] = text.trim().split('/');
  const family = isIP(network);
  const bits = family === 6 ? 128 : 32;
  const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
  if (family === 0 || extra !== undefined || !(length >= 0 && length <= bits))
    throw new Error(`'${text}' is not an IPv4 or IPv6 CIDR (e.g. 10.1.0.0/16, fd00::/8)`);
  return [network, length];
}

/** The IPv4 address inside a NAT64 one (64:ff9b::a.b.c.d), which the gateway would reach. */
function embeddedIPv4(address: string): string | null {
  if (!NAT64.check(address, 'ipv6')) return null;
  const last = address.split(':').pop() ?? '';
  if (isIP(last) === 4) return last;
  const tail = address.split(':').slice(-2);
  const words = tail.map((w) => Number.parseInt(w || '0', 16));
  if (tail.length < 2 || words.some(Number.isNaN)) return null;
  const [hi = 0, lo = 0] = words;
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

export type Resolution = { ok: true; addresses: ResolvedAddress[] } | { ok: false; reason: string };

/**
 * Where webhooks may go (SSRF): only public addresses, unless the pod allows private ones
 * (FLEET_WEBHOOK_ALLOW_PRIVATE) or some ranges (FLEET_WEBHOOK_ALLOW_CIDRS). Checked when an endpoint
 * is created and again before every send, and the send connects to the address checked (a name that
 * resolves elsewhere a moment later, DNS rebinding, is never used).
 */
export class TargetPolicy {
  private readonly allowed = new BlockList();

  constructor(
    private readonly options: { allowPrivate: boolean; allowCidrs: readonly string[] },
    private readonly resolver: Resolver = systemResolver,
  ) {
    for (const cidr of options.allowCidrs) {
      const [network, prefix] = parseCidr(cidr);
      this.allowed.addSubnet(network, prefix, isIP(network) === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /** Why the address may not be reached (`loopback`, `private`, …), or null when it may. */
  refusal(address: string): string | null {
    if (this.options.allowPrivate) return null;
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(address, type)) return null;
    const inner = type === 'ipv6' ? embeddedIPv4(address) : null;
    if (inner !== null) {
      const why = this.refusal(inner);
      return why === null ? null : `${why}, through NAT64`;
    }
    return BLOCKED.find(({ list }) => list.check(address, type))?.name ?? null;
  }

  /**
   * The addresses a URL's host stands for, all of them allowed; refused if any is not (a name
   * with one private address among public ones could be made to reach it).
   */
  async resolve(hostname: string): Promise<Resolution> {
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: ResolvedAddress[];
    if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
    else {
      try {
        addresses = await this.resolver(host);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return {
          ok: false,
          reason: `${host} does not resolve (${typeof code === 'string' ? code : 'DNS error'})`,
        };
      }
    }
    if (addresses.length === 0) return { ok: false, reason: `${host} does not resolve` };
    for (const { address } of addresses) {
      const why = this.refusal(address);
      if (why !== null) {
        const shown = address === host ? address : `${host} resolves to ${address}`;
        return {
          ok: false,
          reason: `${shown}: a ${why} address (allowed only with FLEET_WEBHOOK_ALLOW_PRIVATE=1 or FLEET_WEBHOOK_ALLOW_CIDRS on the pods)`,
        };
      }
    }
    return { ok: true, addresses };
  }
}
