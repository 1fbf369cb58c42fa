import { describe, expect, it } from 'vitest';
import { describeTarget, parseRedisUrl, RedisTargetError } from './target.js';

describe('parseRedisUrl', () => {
  it('keeps a single-instance URL as it is, for ioredis to read', () => {
    expect(parseRedisUrl('redis://:pw@10.0.0.5:6380/2')).toEqual({
      mode: 'single',
      url: 'redis://:pw@10.0.0.5:6380/2',
    });
    expect(parseRedisUrl('rediss://cache.example:6379').mode).toBe('single');
  });

  it('reads a cluster seed list with credentials and TLS', () => {
    expect(parseRedisUrl('rediss+cluster://app:s%40cret@a:7000,b:7001,[::1]:7002')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it('reads sentinels and the master name; ports default to 26379', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1,s2:26380/camfleet')).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      masterName: 'camfleet',
      password: 'pw',
      tls: false,
    });
  });

  it.each([
    ['http://x:1', 'must start with'],
    ['redis+cluster://', 'at least one host'],
    ['redis+cluster://a:7000/0', 'no path'],
    ['redis+cluster://a:99999', 'is not host:port'],
    ['redis+cluster://a b:1', 'is not host:port'],
    ['redis+sentinel://s1:26379', '/<master name>'],
    ['redis+sentinel://s1:26379/bad name', '/<master name>'],
    ['redis://', 'names no host'],
  ])('refuses %s clearly', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(RedisTargetError);
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it('describes a target without its credentials', () => {
    expect(describeTarget(parseRedisUrl('redis://u:pw@h:1/0'))).toBe('redis://h:1/0');
    expect(describeTarget(parseRedisUrl('redis+cluster://u:pw@a:1,b:2'))).toBe('cluster a:1,b:2');
    expect(describeTarget(parseRedisUrl('redis+sentinel://:pw@s:3/m'))).toBe('sentinel s:3 master m');
  });
});
