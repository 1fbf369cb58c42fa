/**
 * Where Redis is and which engine runs it. One URL names all three, so every place that takes a
 * Redis URL (pods, tests, the bench) takes any of them:
 *   redis://[user:pass@]host:port[/db]                  one instance (rediss:// for TLS)
 *   redis+cluster://[user:pass@]host:port,host:port     Redis Cluster: seed nodes
 *   redis+sentinel://[user:pass@]host:port,host:port/master-name
 *                                                        Sentinel: sentinels and the master's name
 * (`rediss+cluster://`, `rediss+sentinel://` for TLS to the data nodes.)
 */
export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  tls: boolean;
}

/** What the Sentinels themselves ask for (their own `requirepass` or ACL user), if anything. */
export interface SentinelCredentials {
  sentinelUsername?: string;
  sentinelPassword?: string;
}

export type RedisTarget =
  | { mode: 'single'; url: string }
  | ({ mode: 'cluster'; nodes: HostPort[] } & Credentials)
  | ({ mode: 'sentinel'; sentinels: HostPort[]; masterName: string } & Credentials & SentinelCredentials);

export type RedisMode = RedisTarget['mode'];

export class RedisTargetError extends Error {
  override readonly name = 'RedisTargetError';
}

const SCHEME = /^(rediss?)(\+cluster|\+sentinel)?:\/\/(.*)$/;
const MASTER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** `host:port,host:port` (IPv6 as `[::1]:port`); the port defaults to `defaultPort`. */
export function parseHostList(list: string, defaultPort: number): HostPort[] {
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new RedisTargetError('expected at least one host:port');
  return entries.map((entry) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
    if (!match?.[1] || port < 1 || port > 65_535) throw new RedisTargetError(`"${entry}" is not host:port`);
    return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
  });
}

function credentialsOf(userInfo: string | undefined, tls: boolean): Credentials {
  if (!userInfo) return { tls };
  const colon = userInfo.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(0, colon));
  const password = colon < 0 ? undefined : decodeURIComponent(userInfo.slice(colon + 1));
  // `redis://:secret@host` carries a password only (the default user).
  return { tls, ...(username ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

export function parseRedisUrl(url: string): RedisTarget {
  const match = SCHEME.exec(url);
  if (!match) {
    throw new RedisTargetError('must start with redis://, rediss://, redis+cluster:// or redis+sentinel://');
  }
  const [, scheme, engine, rest = ''] = match;
  if (!engine) {
    if (rest.length === 0) throw new RedisTargetError('names no host');
    return { mode: 'single', url };
  }
  const tls = scheme === 'rediss';
  const at = rest.lastIndexOf('@');
  const userInfo = at < 0 ? undefined : rest.slice(0, at);
  const afterAuth = at < 0 ? rest : rest.slice(at + 1);
  const slash = afterAuth.indexOf('/');
  const hosts = slash < 0 ? afterAuth : afterAuth.slice(0, slash);
  const path = slash < 0 ? '' : afterAuth.slice(slash + 1);
  const credentials = credentialsOf(userInfo, tls);
  if (engine === '+cluster') {
    if (path !== '') throw new RedisTargetError('a cluster URL takes no path (a cluster has no databases)');
    return { mode: 'cluster', nodes: parseHostList(hosts, 6379), ...credentials };
  }
  if (!MASTER_NAME.test(path))
    throw new RedisTargetError('a sentinel URL ends with /<master name> (letters, digits, . _ -)');
  return { mode: 'sentinel', sentinels: parseHostList(hosts, 26379), masterName: path, ...credentials };
}

/** The URL form of a target without its credentials: safe to log. */
export function describeTarget(target: RedisTarget): string {
  const list = (hosts: HostPort[]) => hosts.map(({ host, port }) => `${host}:${port}`).join(',');
  switch (target.mode) {
    case 'single':
      return target.url.replace(/\/\/[^@/]*@/, '//');
    case 'cluster':
      return `cluster ${list(target.nodes)}`;
    case 'sentinel':
      return `sentinel ${list(target.sentinels)} master ${target.masterName}`;
  }
}
