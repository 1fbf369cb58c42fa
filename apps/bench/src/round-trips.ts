import { createHash } from 'node:crypto';
import { mastersOf, type RedisClient } from '@camfleet/redis';
import { ALL_SCRIPTS, loadScriptSource } from '@camfleet/server';
import { monitorRedis } from '@camfleet/test-support';

/** What clients sent Redis over a window, by command (EVALSHA by script name), as MONITOR saw it. */
export interface RoundTrips {
  /** Commands sent by clients (pods, the benchmark's admin calls), not those run inside scripts. */
  total: number;
  byCommand: Record<string, number>;
}

const SCRIPT_OF_SHA = new Map(
  ALL_SCRIPTS.map(({ name }) => [createHash('sha1').update(loadScriptSource(name)).digest('hex'), name]),
);

/**
 * Counts the commands clients send, by name, from now until the returned function is called (on
 * every master of a cluster). MONITOR costs Redis dearly, so this runs on a window that is not timed.
 */
export async function countRoundTrips(redis: RedisClient): Promise<() => Promise<RoundTrips>> {
  const byCommand: Record<string, number> = {};
  let total = 0;
  const monitors = await Promise.all(
    mastersOf(redis).map((master) =>
      monitorRedis(master.options.port ?? 6379, ({ source, args }) => {
        // Commands a script runs are reported with source "lua": they cost no round trip.
        if (source === 'lua') return;
        const command = (args[0] ?? '').toLowerCase();
        if (command === 'monitor') return;
        const name =
          command === 'evalsha' ? `script:${SCRIPT_OF_SHA.get(args[1] ?? '') ?? 'unknown'}` : command;
        byCommand[name] = (byCommand[name] ?? 0) + 1;
        total++;
      }),
    ),
  );
  return async () => {
    for (const monitor of monitors) await monitor.stop();
    return { total, byCommand };
  };
}
