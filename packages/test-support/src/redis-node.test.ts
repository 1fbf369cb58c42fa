import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataNodeArgs, freePorts, RedisNode, startOnFreePorts } from './redis-node.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A real redis-server on `port`, in a directory of its own. */
async function nodeOn(port: number): Promise<RedisNode> {
  const dir = await mkdtemp(join(tmpdir(), 'camfleet-redis-node-'));
  const node = new RedisNode(port, dir, dataNodeArgs(port, dir, {}));
  cleanups.push(async () => {
    await node.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  return node;
}

describe('startOnFreePorts', () => {
  it('starts again on new ports when a picked port was taken before the server bound it', async () => {
    // Someone else takes the port between the pick and the bind.
    const [taken] = await freePorts(1);
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));

    const tried: number[] = [];
    const node = await startOnFreePorts(async () => {
      const port = tried.length === 0 ? (taken ?? 0) : ((await freePorts(1))[0] ?? 0);
      tried.push(port);
      const candidate = await nodeOn(port);
      await candidate.start();
      return candidate;
    });
    expect(tried).toHaveLength(2);
    expect(tried[0]).toBe(taken);
    expect(node.port).toBe(tried[1]);
    expect(node.running).toBe(true);
  });

  it('does not retry any other failure', async () => {
    let attempts = 0;
    const failing = startOnFreePorts(async () => {
      attempts++;
      throw new Error('redis-server exited: bad config');
    });
    await expect(failing).rejects.toThrow('bad config');
    expect(attempts).toBe(1);
  });
});
