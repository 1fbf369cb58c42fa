import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from './redis.js';
import { redisCli } from './redis-cli.js';
import { type MonitoredCommand, monitorRedis, parseMonitorLine } from './redis-monitor.js';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server.destroy();
});

describe('monitorRedis', () => {
  it('parses a feed line: source and unescaped words', () => {
    expect(parseMonitorLine('1796410010.884222 [0 127.0.0.1:58400] "set" "a\\"b" "x\\x01y"')).toEqual({
      source: '127.0.0.1:58400',
      args: ['set', 'a"b', 'x\u0001y'],
    });
    expect(parseMonitorLine('1.2 [0 lua] "zadd" "k" "1" "m"')?.source).toBe('lua');
    expect(parseMonitorLine('OK')).toBeNull();
  });

  it('sees every command sent before stop(), scripts’ own calls marked lua', async () => {
    const seen: MonitoredCommand[] = [];
    const monitor = await monitorRedis(server.port, (command) => seen.push(command));
    await redisCli(server.port, ['SET', 'k', 'v']);
    await redisCli(server.port, ['EVAL', "return redis.call('GET', KEYS[1])", '1', 'k']);
    await monitor.stop();
    const words = seen.map((c) => [c.source === 'lua' ? 'lua' : 'client', c.args[0]?.toLowerCase()]);
    expect(words).toEqual(
      expect.arrayContaining([
        ['client', 'set'],
        ['client', 'eval'],
        ['lua', 'get'],
      ]),
    );
    expect(seen.some((c) => c.args[0]?.toLowerCase() === 'echo')).toBe(false);
  });
});
