import { describe, expect, it } from 'vitest';
import { parseCidr, type ResolvedAddress, TargetPolicy } from './targets.js';

const strict = new TargetPolicy({ allowPrivate: false, allowCidrs: [] });

describe('which addresses a webhook may reach (SSRF)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.4.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['64:ff9b::7f00:1', 'loopback, through NAT64'],
  ])('%s is refused: %s', (address, why) => {
    expect(strict.refusal(address)).toBe(why);
  });

  it.each([
    '93.184.216.34',
    '1.1.1.1',
    '172.32.0.1',
    '2606:4700::1111',
    '64:ff9b::5db8:d822',
    '::ffff:8.8.8.8',
  ])('%s is public', (address) => {
    expect(strict.refusal(address)).toBeNull();
  });

  it('allows everything with allowPrivate, and only the listed ranges with allowCidrs', () => {
    expect(new TargetPolicy({ allowPrivate: true, allowCidrs: [] }).refusal('127.0.0.1')).toBeNull();
    const lab = new TargetPolicy({
      allowPrivate: false,
      allowCidrs: ['10.1.0.0/16', 'fd00::/8', '127.0.0.1'],
    });
    expect(lab.refusal('10.1.200.3')).toBeNull();
    expect(lab.refusal('fd00::5')).toBeNull();
    expect(lab.refusal('127.0.0.1')).toBeNull();
    expect(lab.refusal('127.0.0.2')).toBe('loopback');
    expect(lab.refusal('10.2.0.1')).toBe('private');
  });

  it('parses CIDRs and refuses anything else', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual(['10.0.0.0', 8]);
    expect(parseCidr(' fd00::/8 ')).toEqual(['fd00::', 8]);
    expect(parseCidr('::1')).toEqual(['::1', 128]);
    for (const bad of ['10.0.0.0/33', '::/129', 'example.com/8', '10.0.0.0/8/1', '10.0.0.0/x', ''])
      expect(() => parseCidr(bad)).toThrow(/is not an IPv4 or IPv6 CIDR/);
  });
});

describe('resolving a URL host', () => {
  const resolving =
    (answers: Record<string, ResolvedAddress[]>) =>
    async (host: string): Promise<ResolvedAddress[]> => {
      const found = answers[host];
      if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return found;
    };
  const policy = new TargetPolicy(
    { allowPrivate: false, allowCidrs: [] },
    resolving({
      'public.test': [{ address: '93.184.216.34', family: 4 }],
      'internal.test': [{ address: '10.0.0.7', family: 4 }],
      'mixed.test': [
        { address: '93.184.216.34', family: 4 },
        { address: '::1', family: 6 },
      ],
    }),
  );

  it('answers the addresses of a public name', async () => {
    expect(await policy.resolve('public.test')).toEqual({
      ok: true,
      addresses: [{ address: '93.184.216.34', family: 4 }],
    });
  });

  it('refuses a name with any address that is not public, and one that does not resolve', async () => {
    expect(await policy.resolve('internal.test')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^internal\.test resolves to 10\.0\.0\.7: a private address/),
    });
    expect(await policy.resolve('mixed.test')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^mixed\.test resolves to ::1: a loopback address/),
    });
    expect(await policy.resolve('nowhere.test')).toEqual({
      ok: false,
      reason: 'nowhere.test does not resolve (ENOTFOUND)',
    });
  });

  it('takes IP literals as they are, brackets and all', async () => {
    expect(await policy.resolve('[::1]')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^::1: a loopback/),
    });
    expect(await policy.resolve('8.8.8.8')).toEqual({
      ok: true,
      addresses: [{ address: '8.8.8.8', family: 4 }],
    });
  });

  it('uses the system resolver by default: localhost is loopback', async () => {
    expect(await strict.resolve('localhost')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^localhost resolves to (127\.0\.0\.1|::1): a loopback address/),
    });
  });
});
