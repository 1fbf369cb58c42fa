import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeys, signManifest } from '@camfleet/client';
import { type ProcessResult, startSim, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

/** The CLI as a process (`pnpm sim`), against an in-process test pod. */

const TOKEN = 'process-enroll-token';
let fake: FakeFleet;
let pod: FakePod;
let dir: string;

beforeAll(async () => {
  fake = new FakeFleet(TOKEN);
  pod = await FakePod.start(fake);
  dir = await mkdtemp(join(tmpdir(), 'device-sim-main-'));
});

afterAll(async () => {
  await pod?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the simulator to its end; no enrollment token unless given. */
function sim(args: string[], env: Record<string, string> = {}) {
  return startSim(['--url', pod.url, '--quiet', '--stagger-ms', '0', ...args], {
    FLEET_ENROLL_TOKEN: '',
    ...env,
  }).done;
}

/**
 * Runs the simulator until `ready` holds, then stops it as an operator would (SIGTERM) and resolves
 * to how it ended (the summary says exitReason 'signal'). `ready` is given the process's output
 * so far: event lines, as it is not --quiet here. The test waits for the work it checks instead
 * of guessing how long that takes with --exit-when-idle (idle.test.ts covers idleness).
 */
async function simUntil(
  args: string[],
  ready: (output: string) => boolean,
  env: Record<string, string> = {},
): Promise<ProcessResult> {
  const { child, done } = startSim(['--url', pod.url, '--stagger-ms', '0', ...args], {
    FLEET_ENROLL_TOKEN: '',
    ...env,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = done.then((result) => {
    throw new Error(`the simulator exited before it was stopped: ${JSON.stringify(result)}`);
  });
  await Promise.race([waitFor(() => ready(output), { timeoutMs: 30_000, what: 'the simulator' }), exited]);
  child.kill('SIGTERM');
  return done;
}

/** Whether each of `ids` started an offers subscription after the first `since` (so registered). */
const subscribed = (ids: string[], since: number): boolean =>
  ids.every((id) => fake.subscriptions.slice(since).includes(id));

const json = async (path: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;

describe('device-sim process', () => {
  it('enrolls into --credentials, and the next run reuses the file without enrolling', async () => {
    const file = join(dir, 'enrolled.json');
    const summary = join(dir, 'enrolled-summary.json');
    const ids = ['enr-0001', 'enr-0002', 'enr-0003'];
    const args = ['--prefix', 'enr', '--devices', '3', '--credentials', file, '--summary', summary];

    // Stopped once all three enrolled and registered with their secrets (subscribed after that).
    let since = fake.subscriptions.length;
    const first = await simUntil(args, () => subscribed(ids, since), { FLEET_ENROLL_TOKEN: TOKEN });
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect([...fake.enrolled].sort()).toEqual(ids);
    const secrets = await json(file);
    expect(secrets).toEqual(Object.fromEntries(fake.enrolled.map((id) => [id, fake.secrets.get(id)])));
    expect(await json(summary)).toMatchObject({
      enrollments: 3,
      rejectedDevices: 0,
      rejected: [],
      exitReason: 'signal',
    });

    since = fake.subscriptions.length;
    const second = await simUntil([...args, '--enroll-token', TOKEN], () => subscribed(ids, since));
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(fake.enrolled).toHaveLength(3);
    expect(await json(summary)).toMatchObject({ enrollments: 0, connected: 3, exitReason: 'signal' });
    expect(await json(file)).toEqual(secrets);
  });

  it('exits 5 when some device was refused for its credentials, and says which', async () => {
    const file = join(dir, 'mixed.json');
    const summary = join(dir, 'mixed-summary.json');
    await writeFile(file, JSON.stringify({ 'mix-0001': fake.provision('mix-0001'), 'mix-0002': 'wrong' }));
    fake.provision('mix-0002');
    // Stopped once mix-0001 registered (subscribed after that) and mix-0002 was refused (its line).
    const since = fake.subscriptions.length;
    const result = await simUntil(
      ['--prefix', 'mix', '--devices', '2', '--credentials', file, '--summary', summary],
      (output) => subscribed(['mix-0001'], since) && output.includes('mix-0002 rejected by the server'),
    );
    expect(result.code).toBe(5);
    expect(result.stderr).toBe(
      '1 device rejected for credentials:\n  device credentials refused: mix-0002\n',
    );
    expect(await json(summary)).toMatchObject({
      connected: 1,
      rejectedDevices: 1,
      exitReason: 'signal',
      rejected: [{ id: 'mix-0002', message: 'device credentials refused' }],
    });
  });

  it('ends by itself with 5 once every device was refused (the deprecated --token still works)', async () => {
    const result = await sim(['--prefix', 'bad', '--devices', '2', '--token', 'not-the-token']);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(
      /2 devices rejected for credentials:\n {2}device credentials refused: bad-0001, bad-0002/,
    );
  });

  it('exits 2 for a credentials file it cannot use', async () => {
    const missing = await sim(['--credentials', join(dir, 'missing.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--credentials .*missing\.json/);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"a": 1}');
    const bad = await sim(['--credentials', broken, '--enroll-token', TOKEN]);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/"a" is not a non-empty string/) });
    expect((await sim([])).code).toBe(2);
  });

  it('downloads and verifies artifacts, refusing what no trusted key signed (--require-signature)', async () => {
    const key = generateSigningKeys();
    const keyFile = join(dir, 'publisher.pub.pem');
    await writeFile(keyFile, key.publicKeyPem);
    const file = join(dir, 'signed.json');
    const summary = join(dir, 'signed-summary.json');
    await writeFile(
      file,
      JSON.stringify({ 'sig-0001': fake.provision('sig-0001'), 'sig-0002': fake.provision('sig-0002') }),
    );
    const artifact = fake.addArtifact(randomBytes(256 * 1024));
    const signature = signManifest({ name: 'fw', version: '3.0.0', ...artifact }, key.privateKeyPem);
    fake.offer('sig-0001', 'del-signed', 1, '3.0.0', { name: 'fw', artifact, signature });
    fake.offer('sig-0002', 'del-unsigned', 1, '3.0.0', { name: 'fw', artifact });
    const args = ['--prefix', 'sig', '--devices', '2', '--credentials', file, '--summary', summary];
    // Stopped once sig-0001 is back from its restart on 3.0.0 (its install counted by then) and
    // sig-0002's refusal was reported (its line comes once the server took the report).
    const result = await simUntil(
      [
        ...args,
        '--trusted-keys',
        keyFile,
        '--require-signature',
        '--drop-download-rate',
        '1',
        '--apply-ms',
        '10',
      ],
      (output) =>
        fake.registrations.some((r) => r.deviceId === 'sig-0001' && r.input.firmwareVersion === '3.0.0') &&
        output.includes('sig-0002 install failed'),
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(await json(summary)).toMatchObject({
      exitReason: 'signal',
      installsDone: 1,
      installsFailed: 1,
      signatureRefusals: 1,
      checksumFailures: 0,
      firmware: { '3.0.0': 1, '1.0.0': 1 },
    });
    const { downloadBytes, downloadResumes } = await json(summary);
    expect(downloadBytes).toBeGreaterThanOrEqual(artifact.size);
    expect(downloadResumes).toBeGreaterThanOrEqual(1);
    expect(fake.reportsOf('del-unsigned')).toMatchObject([{ status: 'failed', error: 'signature unsigned' }]);
  });

  it('exits 2 for a trusted key it cannot use', async () => {
    const privateFile = join(dir, 'private.pem');
    await writeFile(privateFile, generateSigningKeys().privateKeyPem);
    const base = ['--enroll-token', TOKEN, '--trusted-keys'];
    const missing = await sim([...base, join(dir, 'nope.pem')]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/--trusted-keys .*nope\.pem/) });
    const priv = await sim([...base, privateFile]);
    expect(priv).toMatchObject({ code: 2, stderr: expect.stringMatching(/a private key/) });
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a key');
    expect((await sim([...base, garbage])).stderr).toMatch(/not a PEM public key/);
  });
});
