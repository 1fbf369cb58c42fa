import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_REJECTED, exitCodeOf } from './cli.js';
import { Credentials } from './credentials.js';
import type { DeviceEvent } from './device.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

const TOKEN = 'enroll-secret';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Waits until `fleet`'s devices stopped for good and the pod holds just `open` sockets (theirs are
 * closed). Nothing can happen after that: a device stopped for good has no reconnect scheduled and
 * never connects again, and the pod counted each of its sockets before the refusal came over it.
 * So `opens` and `reconnects` are final there, and are asserted at once instead of after a pause.
 */
async function stoppedForGood(fleet: Fleet, p: FakePod, open = 0): Promise<void> {
  await waitFor(() => fleet.allStopped && p.connections === open, {
    what: 'the devices to stop for good and their sockets to close',
  });
  for (const device of fleet.devices) expect(device.scheduled).toBe(0);
}

async function pod(): Promise<{ fake: FakeFleet; pod: FakePod }> {
  const fake = new FakeFleet(TOKEN);
  const started = await FakePod.start(fake);
  cleanups.push(() => started.close());
  return { fake, pod: started };
}

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'device-sim-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'credentials.json');
}

function startFleet(url: string, options: Partial<FleetOptions>): Fleet {
  const fleet = new Fleet({
    urls: [url],
    devices: 1,
    staggerMs: 0,
    backoff: { baseMs: 10, maxMs: 50 },
    ...options,
  });
  cleanups.push(() => fleet.stop());
  fleet.start();
  return fleet;
}

const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));

describe('enrollment', () => {
  it('enrolls with the token, writes the secrets to the file, and a restart reuses them', async () => {
    const { fake, pod: p } = await pod();
    const file = await tempFile();
    await writeFile(file, JSON.stringify({ 'other-0001': 'kept' }));

    const events: DeviceEvent[] = [];
    const first = startFleet(p.url, {
      devices: 5,
      credentials: await Credentials.load(file),
      enrollToken: TOKEN,
      onEvent: (event) => events.push(event),
    });
    await waitFor(() => first.summary().connected === 5, { what: 'five devices to enroll and register' });
    await waitFor(() => fake.subscribers.size === 5, { what: 'five subscriptions' });

    expect([...fake.enrolled].sort()).toEqual(['cam-0001', 'cam-0002', 'cam-0003', 'cam-0004', 'cam-0005']);
    expect(await readJson(file)).toEqual({ 'other-0001': 'kept', ...Object.fromEntries(fake.secrets) });
    expect(first.summary()).toMatchObject({ enrollments: 5, connects: 5, rejectedDevices: 0 });
    // Each: an enrollee connection, then a session with its secret.
    const kinds = (id: string) => fake.admissions.filter((a) => a.deviceId === id).map((a) => a.as);
    expect(kinds('cam-0003')).toEqual(['enrollee', 'device']);
    expect(events.filter((event) => event.type === 'enrolled')).toHaveLength(5);
    await first.stop();
    await waitFor(() => p.connections === 0, { what: 'the first run to go' });

    // The next start reads the file: no enrollment, the token is not even used.
    const admitted = fake.admissions.length;
    const second = startFleet(p.url, {
      devices: 5,
      credentials: await Credentials.load(file),
      enrollToken: TOKEN,
    });
    await waitFor(() => second.summary().connected === 5, { what: 'five devices to register again' });
    expect(fake.enrolled).toHaveLength(5);
    expect(second.summary()).toMatchObject({ enrollments: 0, connects: 5, rejectedDevices: 0 });
    expect(fake.admissions.slice(admitted).map((a) => a.as)).toEqual(Array(5).fill('device'));
  });

  it('connects with provisioned secrets from the file, without an enrollment token', async () => {
    const { fake, pod: p } = await pod();
    const file = await tempFile();
    await writeFile(
      file,
      JSON.stringify({ 'cam-0001': fake.provision('cam-0001'), 'cam-0002': fake.provision('cam-0002') }),
    );
    const fleet = startFleet(p.url, { devices: 2, credentials: await Credentials.load(file) });
    await waitFor(() => fleet.summary().connected === 2);
    expect(fake.enrolled).toEqual([]);
    expect(fake.admissions.map((a) => a.as)).toEqual(['device', 'device']);
    expect(fake.registrations.map((r) => r.deviceId).sort()).toEqual(['cam-0001', 'cam-0002']);
  });

  it('rejects a device that has neither a secret nor an enrollment token, without connecting', async () => {
    const { fake, pod: p } = await pod();
    const fleet = startFleet(p.url, {
      devices: 2,
      credentials: Credentials.inMemory({ 'cam-0001': fake.provision('cam-0001') }),
    });
    await waitFor(() => fleet.summary().connected === 1 && fleet.summary().rejectedDevices === 1);
    expect(fleet.rejections()).toEqual([
      { id: 'cam-0002', message: expect.stringMatching(/no credentials/) },
    ]);
    expect(fake.admissions.map((a) => a.deviceId)).toEqual(['cam-0001']);
    expect(exitCodeOf(fleet.summary().rejectedDevices)).toBe(EXIT_REJECTED);
  });

  it('is refused enrolling an id that already has a credential, and stops', async () => {
    const { fake, pod: p } = await pod();
    fake.provision('cam-0001');
    const fleet = startFleet(p.url, { enrollToken: TOKEN });
    await waitFor(() => fleet.allRejected, { what: 'the device to be rejected' });
    await stoppedForGood(fleet, p);
    expect(p.opens).toBe(1);
    expect(fleet.summary().reconnects).toBe(0);
    expect(fake.enrolled).toEqual([]);
    expect(fleet.devices[0]?.record()).toMatchObject({
      state: 'rejected',
      rejection: 'device credentials refused',
    });
  });

  it('stops when enroll is answered FORBIDDEN, and retries it while the server is unavailable', async () => {
    const { fake, pod: p } = await pod();
    fake.failEnrolls = 2;
    const ok = startFleet(p.url, { prefix: 'ok', enrollToken: TOKEN });
    await waitFor(() => ok.summary().connected === 1, { what: 'the enrollment to be retried' });
    expect(fake.enrolled).toEqual(['ok-0001']);
    expect(p.opens).toBe(2); // one enrollee connection (three calls), one session

    fake.enrollFailure = { code: 'FORBIDDEN', message: 'enrollment token used up' };
    const refused = startFleet(p.url, { prefix: 'no', enrollToken: TOKEN });
    await waitFor(() => refused.allRejected, { what: 'the device to be rejected' });
    await stoppedForGood(refused, p, 1); // ok-0001 stays connected
    expect(p.opens).toBe(3);
    expect(refused.summary().reconnects).toBe(0);
    expect(refused.devices[0]?.record().rejection).toMatch(/enrollment refused: FORBIDDEN/);
  });

  it('is rejected for a wrong enrollment token, once, with no reconnect loop', async () => {
    const { fake, pod: p } = await pod();
    const fleet = startFleet(p.url, { devices: 3, enrollToken: 'not-the-token' });
    await waitFor(() => fleet.allRejected);
    await stoppedForGood(fleet, p);
    expect(p.opens).toBe(3);
    expect(fake.admissions.map((a) => a.as)).toEqual(['refused', 'refused', 'refused']);
    expect(fleet.summary()).toMatchObject({ rejectedDevices: 3, connects: 0, enrollments: 0, reconnects: 0 });
    expect(fleet.rejections().map((r) => r.id)).toEqual(['cam-0001', 'cam-0002', 'cam-0003']);
  });

  it('keeps an enrolled secret in memory when the file cannot be written, and says so', async () => {
    const { fake, pod: p } = await pod();
    const file = await tempFile();
    const credentials = await Credentials.load(file);
    await mkdir(file); // a directory where the file should be: the write fails
    const events: DeviceEvent[] = [];
    const fleet = startFleet(p.url, {
      credentials,
      enrollToken: TOKEN,
      onEvent: (event) => events.push(event),
    });
    await waitFor(() => fleet.summary().connected === 1);
    expect(fake.enrolled).toEqual(['cam-0001']);
    expect(credentials.secretOf('cam-0001')).toBe(fake.secrets.get('cam-0001'));
    expect(events.filter((event) => event.type === 'warning')).toMatchObject([
      { deviceId: 'cam-0001', message: expect.stringMatching(/not saved/) },
    ]);
  });
});

describe('credential errors after connecting', () => {
  async function online(options: Partial<FleetOptions> = {}) {
    const { fake, pod: p } = await pod();
    const events: DeviceEvent[] = [];
    const fleet = startFleet(p.url, {
      credentials: Credentials.inMemory({ 'cam-0001': fake.provision('cam-0001') }),
      enrollToken: TOKEN,
      onEvent: (event) => events.push(event),
      ...options,
    });
    await waitFor(() => fleet.summary().connected === 1, { what: 'the device to register' });
    await waitFor(() => fake.subscribers.size === 1, { what: 'the subscription' });
    return { fake, pod: p, fleet, events, device: fleet.devices[0]! };
  }

  it('revoked (4001): checks its secret once more, is refused, and stops for good', async () => {
    const { fake, pod: p, fleet, events, device } = await online();
    fake.revoke('cam-0001');
    await waitFor(() => device.rejected, { what: 'the re-check to be refused' });
    await stoppedForGood(fleet, p);

    expect(p.opens).toBe(2);
    expect(fake.admissions.map((a) => a.as)).toEqual(['device', 'refused']);
    expect(fake.enrolled).toEqual([]); // it does not fall back to enrolling
    expect(fleet.summary()).toMatchObject({ rejectedDevices: 1, reconnects: 1, connected: 0 });
    expect(events.find((event) => event.type === 'disconnected')).toMatchObject({
      reason: expect.stringMatching(/4001/),
    });
    expect(exitCodeOf(fleet.summary().rejectedDevices)).toBe(EXIT_REJECTED);
  });

  it('rotated (4001): the old secret is refused on the re-check', async () => {
    const { fake, device } = await online();
    const fresh = fake.rotate('cam-0001');
    await waitFor(() => device.rejected);
    expect(fake.secrets.get('cam-0001')).toBe(fresh);
    expect(device.record().rejection).toBe('device credentials refused');
  });

  it('closed with 4001 while its secret still works: carries on, and checks again next time', async () => {
    const { fake, fleet, device } = await online();
    fake.closeDevice('cam-0001', 4001, 'credentials changed');
    await waitFor(() => fake.registrations.length === 2, { what: 'the re-check to register' });
    await waitFor(() => fleet.summary().connected === 1);
    expect(device.state).toBe('online');
    fake.closeDevice('cam-0001', 4001, 'credentials changed');
    await waitFor(() => fake.registrations.length === 3, { what: 'a second re-check' });
    expect(fleet.summary()).toMatchObject({ rejectedDevices: 0, reconnects: 2 });

    fake.revoke('cam-0001');
    await waitFor(() => device.rejected);
  });

  it('replaced (4002) by another instance of itself: stops, and does not reconnect', async () => {
    const { fake, pod: p, fleet, events, device } = await online();
    const secret = fake.secrets.get('cam-0001')!;
    const other = startFleet(p.url, { credentials: Credentials.inMemory({ 'cam-0001': secret }) });
    await waitFor(() => device.state === 'replaced', { what: 'the first instance to be replaced' });
    await waitFor(() => other.summary().connected === 1);
    await stoppedForGood(fleet, p, 1); // the other instance stays connected

    expect(p.opens).toBe(2);
    expect(fake.connectionsOf('cam-0001')).toBe(1);
    expect(fleet.summary()).toMatchObject({ replaced: 1, rejectedDevices: 0, reconnects: 0, connected: 0 });
    expect(other.summary()).toMatchObject({ replaced: 0, connected: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'replaced', message: expect.stringMatching(/4002/) });
    expect(fleet.allStopped).toBe(true);
    expect(exitCodeOf(fleet.summary().rejectedDevices)).toBe(0);
  });

  it.each(['UNAUTHORIZED', 'FORBIDDEN'] as const)('stops when register is answered %s', async (code) => {
    const { fake, pod: p } = await pod();
    fake.registerFailure = { code, message: 'not you' };
    const fleet = startFleet(p.url, {
      credentials: Credentials.inMemory({ 'cam-0001': fake.provision('cam-0001') }),
    });
    await waitFor(() => fleet.allRejected);
    await stoppedForGood(fleet, p);
    expect(p.opens).toBe(1);
    expect(fleet.summary().reconnects).toBe(0);
    expect(fleet.devices[0]?.record().rejection).toBe(`${code}: not you`);
  });
});
