import { connectRedis, mastersOf, parseRedisUrl, type RedisClient } from '@camfleet/redis';

/**
 * A client of a suite's Redis, whatever engine runs it (the URL says which); `subscriber` for a
 * sharded pub/sub subscriber.
 */
export function connectTestRedis(
  url: string,
  options: { name?: string; subscriber?: boolean; sentinelPassword?: string } = {},
): RedisClient {
  const target = parseRedisUrl(url);
  if (options.sentinelPassword !== undefined && target.mode === 'sentinel')
    target.sentinelPassword = options.sentinelPassword;
  return connectRedis(target, {
    name: options.name ?? 'camfleet-test',
    subscriber: options.subscriber ?? false,
  });
}

/** KEYS on every master: a cluster spreads the keys over its masters. Tests only. */
export async function keysEverywhere(client: RedisClient, pattern: string): Promise<string[]> {
  await client.ping(); // a cluster client knows its masters once it has the slot map
  const perMaster = await Promise.all(mastersOf(client).map((master) => master.keys(pattern)));
  return perMaster.flat().sort();
}

/**
 * `key=digest` of every key matching `keep`, asked of the master that holds it (DEBUG DIGEST-VALUE
 * is node-local): equal before and after means nothing changed. Needs `enable-debug-command`.
 */
export async function digestEverywhere(client: RedisClient, keep: (key: string) => boolean): Promise<string> {
  await client.ping();
  const lines: string[] = [];
  for (const master of mastersOf(client)) {
    const keys = (await master.keys('*')).filter(keep);
    if (keys.length === 0) continue;
    const values = (await master.call('DEBUG', 'DIGEST-VALUE', ...keys)) as string[];
    keys.forEach((key, i) => {
      lines.push(`${key}=${values[i]}`);
    });
  }
  return lines.sort().join('\n');
}
