import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeviceClient } from '@camfleet/client';
import { PodProcess, startTestRedis, type TestRedis } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleet } from '../../program.js';
import { captured } from '../../test-helpers.js';
import type { ImportSummary } from './import.js';

const ADMIN_TOKEN = 'cli-import-admin-0123';
let redis: TestRedis;
let server: PodProcess | undefined;
let dir = '';

beforeAll(async () => {
  redis = await startTestRedis();
  server = await PodProcess.start(
    redis.url,
    'cli-import',
    {},
    { admin: ADMIN_TOKEN, enroll: 'cli-import-enroll-01' },
  );
  dir = await mkdtemp(join(tmpdir(), 'fleet-import-'));
});
afterAll(async () => {
  await server?.kill('SIGTERM');
  await redis?.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function fleet(argv: string[]) {
  const stdout = captured(false);
  const stderr = captured(false);
  const code = await runFleet(argv, {
    stdout,
    stderr,
    env: { FLEET_URL: server?.url ?? '', FLEET_TOKEN: ADMIN_TOKEN },
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const ROWS = 2_500;

describe('fleet devices import against a real pod', () => {
  it('provisions a file in batches, refuses bad rows by line, and changes nothing when run again', async () => {
    const lines = ['id,model,labels'];
    for (let i = 0; i < ROWS; i++) lines.push(`imp-${i},cam-x1,"site=s${i % 7},tier=t"`);
    lines.splice(11, 0, 'bad id!,cam-x1,', 'imp-3,cam-x1,');
    const file = join(dir, 'cameras.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    const credentials = join(dir, 'creds.json');

    const first = await fleet([
      'devices',
      'import',
      file,
      '--credentials',
      credentials,
      '--batch',
      '1000',
      '--json',
    ]);
    expect(first.code, first.stderr).toBe(1);
    const summary = JSON.parse(first.stdout) as ImportSummary;
    expect(summary).toMatchObject({ rows: ROWS + 2, created: ROWS, existing: 0 });
    expect(summary.refused.map(({ line, deviceId }) => [line, deviceId])).toEqual([
      [12, 'bad id!'],
      [13, 'imp-3'],
    ]);
    const saved = JSON.parse(await readFile(credentials, 'utf8')) as Record<string, string>;
    expect(Object.keys(saved)).toHaveLength(ROWS);

    // Listed with its row's model and labels; it connects with the secret the import saved.
    const shown = await fleet(['device', 'show', 'imp-1234', '--json']);
    expect(JSON.parse(shown.stdout).device).toMatchObject({
      model: 'cam-x1',
      labels: { site: 's2', tier: 't' },
    });
    const device = createDeviceClient({
      baseUrl: server?.url ?? '',
      deviceId: 'imp-1234',
      credentials: { secret: saved['imp-1234'] ?? '' },
      retryDelayMs: () => 100,
    });
    try {
      await device.client.device.register.mutate({ model: 'cam-x1', firmwareVersion: '1.0.0' });
    } finally {
      device.wsClient.close();
    }

    // Again: nothing new, the file of secrets as it was, the same rows refused.
    const before = await readFile(credentials, 'utf8');
    const again = await fleet(['devices', 'import', file, '--credentials', credentials, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: 0, existing: ROWS, refused: summary.refused });
    expect(await readFile(credentials, 'utf8')).toBe(before);
    const stats = await fleet(['stats', '--json']);
    expect(JSON.parse(stats.stdout)).toMatchObject({ devices: ROWS });
  });

  it('says what it did in words, with the refused rows in a table', async () => {
    const file = join(dir, 'few.jsonl');
    await writeFile(file, '{"id":"few-1"}\n{"id":"few 2"}\n');
    const result = await fleet(['devices', 'import', file, '--credentials', join(dir, 'few.json')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^1 provisioned, 0 already had a credential .*1 refused, of 2 rows/);
    expect(result.stdout).toMatch(/2\s+few 2\s+id: /);
  });
});
