import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { redisCli } from './redis-cli.js';

/** One command as MONITOR saw it: who sent it (`lua` for a script's own calls) and its words. */
export interface MonitoredCommand {
  source: string;
  args: string[];
}

/** `1796410010.884222 [0 127.0.0.1:58400] "evalsha" "ab…" "1"`: the source and the quoted words. */
const LINE = /^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/;
const WORD = /"((?:[^"\\]|\\.)*)"/g;

function unquote(word: string): string {
  return word.replace(/\\(x[0-9a-f]{2}|.)/gi, (_, escaped: string) => {
    if (escaped.length === 3) return String.fromCharCode(Number.parseInt(escaped.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[escaped] ?? escaped;
  });
}

export function parseMonitorLine(line: string): MonitoredCommand | null {
  const match = LINE.exec(line);
  if (!match) return null;
  const args = [...(match[2] ?? '').matchAll(WORD)].map((m) => unquote(m[1] ?? ''));
  return { source: match[1] ?? '', args };
}

/**
 * Watches every command a Redis node on loopback receives, with `redis-cli monitor` in a process of its own (a
 * MONITOR on a client library's connection can mix its feed into the replies of commands queued
 * there). Resolves once the feed runs. `stop()` sends a marker and waits for it in the feed, so
 * every command sent before the call has been seen; the marker itself is not reported.
 */
export async function monitorRedis(
  port: number,
  onCommand: (command: MonitoredCommand) => void,
): Promise<{ stop: () => Promise<void> }> {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'monitor'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const marker = `camfleet-monitor-end-${randomBytes(6).toString('hex')}`;
  let started: () => void;
  let ended: () => void;
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  const markerSeen = new Promise<void>((resolve) => {
    ended = resolve;
  });
  lines.on('line', (line) => {
    if (line === 'OK') return started();
    const command = parseMonitorLine(line);
    if (!command) return;
    if (command.args[0]?.toLowerCase() === 'echo' && command.args[1] === marker) return ended();
    onCommand(command);
  });
  const exited = once(child, 'exit');
  await Promise.race([
    running,
    exited.then(() => {
      throw new Error(`redis-cli monitor on port ${port} exited before the feed started`);
    }),
  ]);
  return {
    stop: async () => {
      await redisCli(port, ['ECHO', marker]);
      await markerSeen;
      child.kill();
      await exited;
    },
  };
}
