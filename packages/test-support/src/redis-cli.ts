import { execFile } from 'node:child_process';

export interface RedisCliOptions {
  /** `-c`: follow MOVED/ASK redirections (Redis Cluster). */
  cluster?: boolean;
  /** Commands on stdin, one a line, all on one connection (e.g. a write and then its WAIT). */
  input?: string;
  /** A stopped (SIGSTOP) server never answers: give up rather than hang the poll that asked. */
  timeoutMs?: number;
  /** The server's `requirepass` (given through REDISCLI_AUTH: not on the command line). */
  password?: string;
}

/**
 * Runs `redis-cli` against 127.0.0.1:port and resolves with its raw output, trimmed. Rejects when
 * it cannot connect or (`-e`) when Redis answers with an error, so callers need not parse `ERR`.
 */
export function redisCli(
  port: number,
  args: readonly string[],
  options: RedisCliOptions = {},
): Promise<string> {
  const argv = ['-h', '127.0.0.1', '-p', String(port), '-e', ...(options.cluster ? ['-c'] : []), ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      'redis-cli',
      argv,
      {
        timeout: options.timeoutMs ?? 5_000,
        maxBuffer: 16 * 1024 * 1024,
        ...(options.password !== undefined
          ? { env: { ...process.env, REDISCLI_AUTH: options.password } }
          : {}),
      },
      (error, stdout, stderr) => {
        if (error) {
          const said = `${stdout}${stderr}`.trim();
          reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${said || error.message}`));
        } else {
          resolve(stdout.trim());
        }
      },
    );
    // redis-cli may exit (cannot connect) before reading its input; its exit status says why.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** `INFO <section>` as key → value (`role` → `slave`, `master_link_status` → `up`, ...). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

export async function redisInfo(
  port: number,
  section: string,
  password?: string,
): Promise<Map<string, string>> {
  return parseInfo(
    await redisCli(port, ['INFO', section], {
      timeoutMs: 2_000,
      ...(password !== undefined ? { password } : {}),
    }),
  );
}
