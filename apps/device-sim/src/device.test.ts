import { randomBytes } from 'node:crypto';
import { waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Credentials } from './credentials.js';
import type { DeviceEvent } from './device.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { releasedByCall } from './hold.js';
import { deviceIds } from './ids.js';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

const TOKEN = 'enroll-secret';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Secrets provisioned for these devices, as a credentials file would hold them. */
function provisioned(fake: FakeFleet, ids: readonly string[]): Credentials {
  return Credentials.inMemory(Object.fromEntries(ids.map((id) => [id, fake.provision(id)])));
}

/** Devices with provisioned secrets (unless `credentials`/`enrollToken` say otherwise) on fake pods. */
async function setup(options: Partial<FleetOptions> & { pods?: number } = {}) {
  const fake = new FakeFleet(TOKEN);
  const pods: FakePod[] = [];
  for (let i = 0; i < (options.pods ?? 1); i++) pods.push(await FakePod.start(fake));
  cleanups.push(async () => {
    for (const pod of pods) await pod.close();
  });
  const ids = deviceIds(options.prefix ?? 'cam', options.devices ?? 1);
  const credentials = options.enrollToken ? Credentials.inMemory() : provisioned(fake, ids);
  const fleet = new Fleet({
    urls: pods.map((pod) => pod.url),
    devices: 1,
    credentials,
    staggerMs: 0,
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
    faults: { downloadMs: 10, applyMs: 40, crashDowntimeMs: 100, rebootMs: 30, ...options.faults },
  });
  cleanups.push(() => fleet.stop());
  fleet.start();
  await waitFor(() => fleet.summary().connected === fleet.devices.length, { what: 'devices to register' });
  await waitFor(() => fake.subscribers.size === fleet.devices.length, { what: 'devices to subscribe' });
  return { fake, pods, fleet };
}

/** Waits until no device has work left: installs finished, restarts back, reports landed. */
function settled(fleet: Fleet, what = 'the fleet to settle'): Promise<boolean> {
  return waitFor(() => fleet.busy === 0, { what });
}

describe('SimulatedDevice against a fake pod', () => {
  it('registers, installs an offer, reports each phase, restarts and adopts the version', async () => {
    const { fake, fleet } = await setup({ devices: 3, model: 'cam-z', labels: { site: 'lab' } });
    for (const device of fleet.devices) fake.offer(device.id, `d-${device.id}`, 1, '2.0.0');
    await waitFor(() => fleet.summary().installsDone === 3, { what: 'three installs' });
    await settled(fleet, 'three restarts');

    const summary = fleet.summary();
    expect(summary).toMatchObject({
      devices: 3,
      connected: 3,
      offersReceived: 3,
      installsStarted: 3,
      installsRepeated: 0,
      reboots: 3,
      rollbacks: 0,
    });
    expect(summary.firmware).toEqual({ '2.0.0': 3 });
    expect(fake.reportsOf('d-cam-0001').map((r) => r.status)).toEqual([
      'downloading',
      'installing',
      'installed',
    ]);
    expect(fake.registrations[0]?.input).toEqual({
      model: 'cam-z',
      firmwareVersion: '1.0.0',
      labels: { site: 'lab' },
    });
    expect(fake.registrations.filter((r) => r.deviceId === 'cam-0002').map((r) => r.input)).toEqual([
      { model: 'cam-z', firmwareVersion: '1.0.0', labels: { site: 'lab' } },
      { model: 'cam-z', firmwareVersion: '2.0.0', labels: { site: 'lab' } },
    ]);
    expect([...fake.deliveries.values()].map((d) => d.state)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    const record = fleet.device('cam-0002')?.record();
    expect(record?.completed).toMatchObject([{ deliveryId: 'd-cam-0002', attempt: 1, outcome: 'installed' }]);
  });

  it('answers a repeated offer of a finished attempt with its final report, not a new install', async () => {
    const { fake, fleet } = await setup();
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);
    // Pretend the server never got the final report and offers the same attempt again.
    const delivery = fake.deliveries.get('del-1')!;
    delivery.over = false;
    delivery.state = 'installing';
    fake.resend('del-1');
    await waitFor(() => fake.reportsOf('del-1').length === 4, { what: 'the final report again' });
    await settled(fleet);

    expect(fake.reportsOf('del-1').at(-1)?.status).toBe('installed');
    expect(fleet.summary()).toMatchObject({
      installsStarted: 1,
      duplicateOffers: 1,
      installsRepeated: 0,
      reboots: 1, // a repeated report, not a second restart
    });
  });

  it('ignores an offer for the attempt it is installing, and installs a newer attempt again', async () => {
    // Held mid-install until the re-sent offer was seen: it comes while installing, by construction.
    const { hold, release } = releasedByCall();
    const { fake, fleet } = await setup({ faults: { failRate: 1 }, installHold: hold });
    fake.offer('cam-0001', 'del-1', 1);
    await waitFor(() => fake.stateOf('del-1') === 'installing');
    fake.resend('del-1');
    await waitFor(() => fleet.summary().duplicateOffers === 1, { what: 'the re-sent offer' });
    release();
    await waitFor(() => fleet.summary().installsFailed === 1);
    fake.offer('cam-0001', 'del-1', 2);
    await waitFor(() => fleet.summary().installsFailed === 2);

    expect(fleet.summary()).toMatchObject({ installsStarted: 2, duplicateOffers: 1, installsRepeated: 0 });
    expect(fake.reportsOf('del-1').filter((r) => r.status === 'failed')).toMatchObject([
      { attempt: 1, error: 'simulated install failure' },
      { attempt: 2 },
    ]);
  });

  it('counts an install of a delivery it already succeeded as repeated', async () => {
    const { fake, fleet } = await setup();
    fake.offer('cam-0001', 'del-1', 1);
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);
    expect(fake.stateOf('del-1')).toBe('succeeded');
    fake.offer('cam-0001', 'del-1', 2); // a broken server re-offering finished work
    await waitFor(() => fleet.summary().installsDone === 2);
    expect(fleet.summary()).toMatchObject({ installsRepeated: 1, rollbacks: 0 });
  });

  it('stops working on an offer whose report is refused', async () => {
    const { fake, fleet } = await setup();
    fake.reportFailure = { code: 'STALE_ATTEMPT', message: 'attempt 2 is current' };
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().reportsRejected === 1);
    // The attempt is over here (every report it sent was answered before it ended): nothing more
    // can come from it.
    await settled(fleet, 'the attempt to end');

    expect(fake.reportsOf('del-1')).toHaveLength(1);
    expect(fleet.summary()).toMatchObject({ installsStarted: 1, installsDone: 0, reportsRejected: 1 });
    expect(fleet.devices[0]?.busy).toBe(0);
    expect(fleet.device('cam-0001')?.record().completed[0]).toMatchObject({ outcome: 'rejected' });
  });

  it('goes silent on a hung attempt, then installs the retry its ack timeout brings', async () => {
    let stuck = true; // every draw 0 while stuck: attempt 1 hangs; 0.99 after: attempt 2 does not
    // Busy as it goes silent, read at that moment (the hang lasts the offer's 300ms ack timeout).
    const busyWhenHung: number[] = [];
    const { fake, fleet } = await setup({
      faults: { hangRate: 0.5 },
      random: () => (stuck ? 0 : 0.99),
      onEvent: (event) => {
        if (event.type === 'install-hung') busyWhenHung.push(fleet.devices[0]!.busy);
      },
    });
    const device = fleet.devices[0]!;
    fake.ackTimeoutMs = 300;
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => fleet.summary().installsHung === 1, { what: 'the attempt to hang' });
    expect(busyWhenHung).toEqual([1]); // stuck until the ack timeout
    fake.resend('del-1');
    await waitFor(() => device.busy === 0, { what: 'the ack timeout to pass' });
    fake.resend('del-1'); // re-sent after a resubscribe: still nothing for this attempt
    // Both offers decided; a report they caused would keep the device busy until it landed.
    await waitFor(() => fleet.summary().duplicateOffers === 2 && device.busy === 0, {
      what: 'the re-sent offers',
    });

    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing']);
    expect(fleet.summary()).toMatchObject({
      connected: 1,
      installsDone: 0,
      installsFailed: 0,
      duplicateOffers: 2,
      reportsRejected: 0,
    });
    expect(device.firmwareVersion).toBe('1.0.0');

    stuck = false;
    fake.offer('cam-0001', 'del-1', 2, '2.0.0'); // the server's retry after the ack timeout
    await waitFor(() => fleet.summary().installsDone === 1, { what: 'the retry to install' });
    await settled(fleet, 'the restart');

    expect(fleet.summary()).toMatchObject({
      installsStarted: 2,
      installsHung: 1,
      installsDone: 1,
      installsFailed: 0,
      installsRepeated: 0,
    });
    expect(fake.reportsOf('del-1').map((r) => `${r.attempt} ${r.status}`)).toEqual([
      '1 downloading',
      '1 installing',
      '2 downloading',
      '2 installing',
      '2 installed',
    ]);
    expect(device.firmwareVersion).toBe('2.0.0');
    expect(device.record().completed).toMatchObject([
      { attempt: 1, outcome: 'hung' },
      { attempt: 2, outcome: 'installed' },
    ]);
  });

  it('drops a hung attempt at once when a newer attempt supersedes it', async () => {
    let stuck = true;
    const { fake, fleet } = await setup({ faults: { hangRate: 0.5 }, random: () => (stuck ? 0 : 0.99) });
    fake.offer('cam-0001', 'del-1', 1);
    await waitFor(() => fleet.summary().installsHung === 1, { what: 'the attempt to hang' });
    stuck = false;
    fake.offer('cam-0001', 'del-1', 2);
    await waitFor(() => fleet.summary().installsDone === 1, { what: 'the retry to install' });
    // Within the 60s ack timeout of the hung attempt: it was dropped, not waited out.
    await settled(fleet, 'the hung attempt to be dropped and the retry to restart');
    expect(fleet.devices[0]?.busy).toBe(0);
    expect(fleet.summary()).toMatchObject({ installsStarted: 2, installsHung: 1, installsRepeated: 0 });
  });

  it('retries registration while the server is briefly unavailable', async () => {
    const fake = new FakeFleet(TOKEN);
    fake.failRegisters = 3;
    const pod = await FakePod.start(fake);
    const fleet = new Fleet({
      urls: [pod.url],
      devices: 1,
      credentials: provisioned(fake, ['cam-0001']),
      backoff: { baseMs: 10, maxMs: 50 },
    });
    cleanups.push(async () => {
      await fleet.stop();
      await pod.close();
    });
    fleet.start();
    await waitFor(() => fleet.summary().connected === 1);
    expect(fake.registrations).toHaveLength(1);
    expect(pod.opens).toBe(1);
  });

  it('resumes an install across a crash: re-registers, the re-sent offer is not installed again', async () => {
    // random 0.5: no jitter, and the crash lands halfway through applying (200ms in, 100ms away).
    // The rest of the apply waits until the device is back and was re-offered the attempt.
    const { hold, release } = releasedByCall();
    const { fake, fleet } = await setup({
      faults: { crashRate: 1, applyMs: 400 },
      random: () => 0.5,
      afterCrashHold: hold,
    });
    fake.offer('cam-0001', 'del-1', 1, '3.1.0');
    await waitFor(() => fleet.summary().duplicateOffers === 1, { what: 'the re-sent offer after the crash' });
    release();
    await waitFor(() => fleet.summary().installsDone === 1, {
      what: 'the install to finish after the crash',
    });
    await settled(fleet, 'the restart');

    expect(fleet.summary()).toMatchObject({
      crashes: 1,
      reboots: 1,
      reconnects: 2,
      installsStarted: 1,
      installsRepeated: 0,
      duplicateOffers: 1,
    });
    // First session, back from the crash (still the old version), back from the restart.
    expect(fake.registrations.map((r) => r.input.firmwareVersion)).toEqual(['1.0.0', '1.0.0', '3.1.0']);
    expect(fake.stateOf('del-1')).toBe('succeeded');
  });

  it('holds the rest of an apply after a crash until released (afterCrashHold); a cancel ends the hold', async () => {
    const seen: string[] = [];
    const { hold } = releasedByCall();
    const { fake, fleet } = await setup({
      faults: { crashRate: 1 },
      random: () => 0.5,
      afterCrashHold: (signal) => {
        seen.push('held');
        return hold(signal);
      },
      onEvent: (event) => seen.push(event.type),
    });
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().duplicateOffers === 1, { what: 'the device back from the crash' });
    // Held once, from the crash on (before it was back), and still held: never released here.
    expect(seen.filter((type) => type === 'held')).toHaveLength(1);
    expect(seen.indexOf('held')).toBeGreaterThan(seen.indexOf('crash'));
    expect(seen.indexOf('held')).toBeLessThan(seen.lastIndexOf('connected'));
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing']);
    fake.cancel('cam-0001', 'del-1');
    await waitFor(() => fake.stateOf('del-1') === 'canceled', { what: 'the canceled report' });
    await settled(fleet);
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'canceled']);
    expect(fleet.summary()).toMatchObject({ crashes: 1, cancelsAccepted: 1, installsDone: 0, reboots: 0 });
  });

  it('fails over to the next pod when its pod goes away, and the final report still lands', async () => {
    const { fake, pods, fleet } = await setup({ devices: 4, pods: 2, faults: { applyMs: 300 } });
    const [a, b] = pods as [FakePod, FakePod];
    expect([a.connections, b.connections]).toEqual([2, 2]);
    for (const device of fleet.devices) fake.offer(device.id, `d-${device.id}`);
    await waitFor(() => [...fake.deliveries.values()].every((d) => d.state === 'installing'));
    await a.close();
    await waitFor(() => fleet.summary().installsDone === 4, { what: 'installs to finish on pod b' });
    // Each restart tries pod a next, finds it gone and comes back to b.
    await settled(fleet, 'the restarts');
    await waitFor(() => b.connections === 4, { what: 'all four on pod b' });
    expect([...fake.deliveries.values()].every((d) => d.state === 'succeeded')).toBe(true);
    expect(fleet.summary()).toMatchObject({ installsStarted: 4, installsRepeated: 0, reportsRejected: 0 });
    expect(fleet.summary().reconnects).toBeGreaterThanOrEqual(2);
  });

  it('leaves a draining pod for the next one when told to reconnect', async () => {
    const { fake, pods, fleet } = await setup({ devices: 2, pods: 2 });
    const [a, b] = pods as [FakePod, FakePod];
    a.broadcastReconnect();
    // Pod a sees the old socket close on its own time (nothing orders it after the move to b): wait.
    await waitFor(() => a.connections === 0 && b.connections === 2 && fleet.summary().connected === 2, {
      what: 'both devices on pod b, none left on a',
    });
    expect(fake.registrations).toHaveLength(3); // one device per pod, then cam-0001 again on b
    expect(fleet.records().map((record) => record.url)).toEqual([b.url, b.url]);
  });

  it('re-registers with the new firmware after a reconnect', async () => {
    const { fake, pods, fleet } = await setup();
    fake.offer('cam-0001', 'del-1', 1, '4.0.0');
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet, 'the restart');
    pods[0]?.dropAll();
    await waitFor(() => fake.registrations.length === 3);
    expect(fake.registrations.map((r) => r.input.firmwareVersion)).toEqual(['1.0.0', '4.0.0', '4.0.0']);
    expect(fleet.devices[0]?.firmwareVersion).toBe('4.0.0');
  });

  it('stops for good when the server refuses its credentials', async () => {
    const fake = new FakeFleet(TOKEN);
    const pod = await FakePod.start(fake);
    fake.provision('cam-0001');
    fake.provision('cam-0002');
    const fleet = new Fleet({
      urls: [pod.url],
      devices: 2,
      credentials: Credentials.inMemory({ 'cam-0001': 'not-its-secret', 'cam-0002': 'nor-this' }),
      enrollToken: TOKEN,
      backoff: { baseMs: 1, maxMs: 5 },
    });
    cleanups.push(async () => {
      await fleet.stop();
      await pod.close();
    });
    fleet.start();
    await waitFor(() => fleet.allRejected && pod.connections === 0, {
      what: 'both devices to be rejected and their sockets closed',
    });

    // Final, not sampled: a reconnect is decided (and counted) when a connection is lost, a rejected
    // device never connects again, and each refusal came over a socket the pod had already counted.
    expect(pod.opens).toBe(2);
    expect(fleet.summary()).toMatchObject({ rejectedDevices: 2, connects: 2, connected: 0, reconnects: 0 });
    expect(fleet.devices[0]?.record().rejection).toBe('device credentials refused');
  });

  it('keeps reconnecting with backoff while no pod is reachable', async () => {
    const fake = new FakeFleet(TOKEN);
    const pod = await FakePod.start(fake);
    const url = pod.url;
    await pod.close();
    const fleet = new Fleet({
      urls: [url],
      devices: 1,
      enrollToken: TOKEN,
      backoff: { baseMs: 10, maxMs: 40 },
    });
    cleanups.push(() => fleet.stop());
    fleet.start();
    await waitFor(() => fleet.summary().reconnects >= 3, { what: 'a few failed attempts' });
    // Between attempts it is offline; during one it is connecting (or enrolling: it has no secret yet).
    expect(fleet.devices[0]?.state).toMatch(/connecting|enrolling|offline/);
    await fleet.stop();
    // Stopped: the pending reconnect is cancelled and nothing can schedule another one.
    expect(fleet.devices[0]).toMatchObject({ state: 'stopped', scheduled: 0 });
  });
});

describe('restarts, rollbacks and cancel requests', () => {
  it('restarts after "installed": drops, stays away, reconnects to the next pod with the new version', async () => {
    const events: DeviceEvent[] = [];
    const { fake, pods, fleet } = await setup({
      pods: 2,
      faults: { rebootMs: 200 },
      onEvent: (event) => events.push(event),
    });
    const [a, b] = pods as [FakePod, FakePod];
    const device = fleet.devices[0]!;
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => device.state === 'offline', { what: 'the restart' });
    // Applied and accepted, but not proven yet: the server waits for the device to come back.
    expect(fake.stateOf('del-1')).toBe('verifying');
    expect(fleet.summary()).toMatchObject({ installsDone: 1, reboots: 1, connected: 0 });
    expect(device.busy).toBe(1);
    await settled(fleet, 'the device to come back');
    // The subscription starts after the registration that settled the delivery: wait for it too.
    await waitFor(() => events.some((event) => event.type === 'subscribed' && event.url === b.url), {
      what: 'the new subscription',
    });

    expect(fake.stateOf('del-1')).toBe('succeeded');
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'installed']);
    expect(fake.registrations.map((r) => r.input.firmwareVersion)).toEqual(['1.0.0', '2.0.0']);
    expect(device.record()).toMatchObject({ url: b.url, firmwareVersion: '2.0.0', state: 'online' });
    expect([a.opens, b.opens]).toEqual([1, 1]);
    expect(fleet.summary()).toMatchObject({ reboots: 1, reconnects: 1, crashes: 0, rollbacks: 0 });

    const at = (type: DeviceEvent['type']) => events.findIndex((event) => event.type === type);
    const lost = events.find((event) => event.type === 'disconnected');
    expect(lost).toMatchObject({ url: a.url, reason: expect.stringMatching(/restart/) });
    expect(at('install-done')).toBeLessThan(at('disconnected'));
    expect(events.slice(at('disconnected'))).toMatchObject([
      { type: 'disconnected' },
      { type: 'connected', url: b.url },
      { type: 'rebooted', version: '2.0.0', rolledBack: false },
      { type: 'subscribed', url: b.url },
    ]);
  });

  it('stays away --reboot-ms before it comes back', async () => {
    const marks: { type: string; at: number }[] = [];
    const { fake, fleet } = await setup({
      faults: { rebootMs: 250 },
      onEvent: (event) => marks.push({ type: event.type, at: Date.now() }),
    });
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().reboots === 1);
    await settled(fleet);
    const gone = marks.find((mark) => mark.type === 'disconnected')!.at;
    const back = marks.findLast((mark) => mark.type === 'connected')!.at;
    expect(back - gone).toBeGreaterThanOrEqual(240);
  });

  it('with --no-reboot reports "succeeded" with the version it runs, and stays connected', async () => {
    const { fake, pods, fleet } = await setup({ faults: { reboot: false } });
    fake.offer('cam-0001', 'del-1', 1, '2.5.0');
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);

    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'succeeded']);
    expect(fake.reportsOf('del-1')[2]).toMatchObject({ status: 'succeeded', firmwareVersion: '2.5.0' });
    expect(fake.stateOf('del-1')).toBe('succeeded');
    expect(fleet.summary()).toMatchObject({ reboots: 0, reconnects: 0, connects: 1, connected: 1 });
    expect(fleet.summary().firmware).toEqual({ '2.5.0': 1 });
    expect(fake.registrations).toHaveLength(1);
    expect(pods[0]?.opens).toBe(1);
    expect(fleet.devices[0]?.record().completed).toMatchObject([{ outcome: 'succeeded' }]);
  });

  it('reports only the phases that take time: an instant install without a file is one report', async () => {
    const { fake, fleet } = await setup({ faults: { reboot: false, downloadMs: 0, applyMs: 0 } });
    fake.offer('cam-0001', 'del-1', 1, '2.6.0');
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['succeeded']);
    expect(fake.stateOf('del-1')).toBe('succeeded');

    const slowApply = await setup({ faults: { reboot: false, downloadMs: 0, applyMs: 30 } });
    slowApply.fake.offer('cam-0001', 'del-2', 1, '2.6.0');
    await waitFor(() => slowApply.fleet.summary().installsDone === 1);
    await settled(slowApply.fleet);
    expect(slowApply.fake.reportsOf('del-2').map((r) => r.status)).toEqual(['installing', 'succeeded']);
  });

  it('begins no install once the offer’s maintenance window closed, and installs the next attempt inside its window', async () => {
    const { fake, fleet } = await setup({ faults: { reboot: false, downloadMs: 10, applyMs: 10 } });
    const now = Date.now();
    fake.offer('cam-0001', 'del-1', 1, '2.7.0', {}, { opensAt: now - 60_000, closesAt: now - 1 });
    await waitFor(() => fake.reportsOf('del-1').some((r) => r.status === 'downloading'), {
      what: 'the download of attempt 1',
    });
    fake.offer('cam-0001', 'del-1', 2, '2.7.0', {}, { opensAt: now - 60_000, closesAt: now + 600_000 });
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);
    const statuses = (attempt: number) =>
      fake
        .reportsOf('del-1')
        .filter((r) => r.attempt === attempt)
        .map((r) => r.status);
    expect(statuses(1)).not.toContain('installing');
    expect(statuses(2)).toEqual(['downloading', 'installing', 'succeeded']);
  });

  it('with --install-window ignore begins the install whatever the window says (to test the server)', async () => {
    const { fake, fleet } = await setup({
      faults: { reboot: false, downloadMs: 10, applyMs: 10, installWindow: 'ignore' },
    });
    const now = Date.now();
    fake.offer('cam-0001', 'del-1', 1, '2.9.0', {}, { opensAt: now + 600_000, closesAt: now + 700_000 });
    await waitFor(() => fleet.summary().installsDone === 1);
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'succeeded']);
  });

  it('downloads ahead of its maintenance window and begins the install only once it opens', async () => {
    const { fake, fleet } = await setup({ faults: { reboot: false, downloadMs: 10, applyMs: 10 } });
    const opensAt = Date.now() + 300;
    fake.offer('cam-0001', 'del-1', 1, '2.8.0', {}, { opensAt, closesAt: opensAt + 600_000 });
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);
    const reports = fake.reportsOf('del-1');
    expect(reports.map((r) => r.status)).toEqual(['downloading', 'installing', 'succeeded']);
    expect(fake.reportTimes('del-1')[1]).toBeGreaterThanOrEqual(opensAt);
  });

  it('comes back on the old version after a rollback; the retry installs again and is no repeat', async () => {
    let rollingBack = true; // all draws 0 while rolling back: the restart rolls back; 0.99 after
    const { fake, fleet } = await setup({
      faults: { rollbackRate: 0.5 },
      random: () => (rollingBack ? 0 : 0.99),
    });
    const device = fleet.devices[0]!;
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => fleet.summary().rollbacks === 1, { what: 'the rollback' });
    await settled(fleet, 'the device to come back');

    expect(fake.registrations.map((r) => r.input.firmwareVersion)).toEqual(['1.0.0', '1.0.0']);
    expect(fake.rollbacks).toEqual([{ deliveryId: 'del-1', attempt: 1, firmwareVersion: '1.0.0' }]);
    expect(fake.stateOf('del-1')).toBe('failed');
    expect(device.firmwareVersion).toBe('1.0.0');
    expect(fleet.summary()).toMatchObject({ installsDone: 1, reboots: 1, rollbacks: 1 });

    rollingBack = false;
    fake.offer('cam-0001', 'del-1', 2, '2.0.0'); // the server's retry
    await waitFor(() => fleet.summary().installsDone === 2, { what: 'the retry to install' });
    await settled(fleet, 'the second restart');

    expect(fleet.summary()).toMatchObject({
      installsStarted: 2,
      installsDone: 2,
      installsRepeated: 0,
      reboots: 2,
      rollbacks: 1,
      duplicateOffers: 0,
    });
    expect(fake.registrations.map((r) => r.input.firmwareVersion)).toEqual(['1.0.0', '1.0.0', '2.0.0']);
    expect(fake.stateOf('del-1')).toBe('succeeded');
    expect(device.firmwareVersion).toBe('2.0.0');
    expect(device.record().completed).toMatchObject([
      { attempt: 1, outcome: 'rolled-back' },
      { attempt: 2, outcome: 'installed' },
    ]);
    expect(fake.reportsOf('del-1').map((r) => `${r.attempt} ${r.status}`)).toEqual([
      '1 downloading',
      '1 installing',
      '1 installed',
      '2 downloading',
      '2 installing',
      '2 installed',
    ]);

    // Once the retry stuck, another attempt would be a repeat again.
    fake.offer('cam-0001', 'del-1', 3, '2.0.0');
    await waitFor(() => fleet.summary().installsStarted === 3);
    expect(fleet.summary().installsRepeated).toBe(1);
  });

  it('honours a cancel request mid-install: stops and reports "canceled"', async () => {
    // Held mid-install: the cancel arrives while installing, by construction (it ends the hold).
    const { hold, release } = releasedByCall();
    const { fake, fleet } = await setup({ installHold: hold });
    const device = fleet.devices[0]!;
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => fake.stateOf('del-1') === 'installing');
    fake.cancel('cam-0001', 'del-1', 1, 'rollout aborted');
    await waitFor(() => fake.stateOf('del-1') === 'canceled', { what: 'the canceled report' });
    // The attempt is over here (every report it sent was answered before it ended): nothing more comes.
    await settled(fleet);

    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'canceled']);
    expect(fleet.summary()).toMatchObject({
      cancelsAccepted: 1,
      cancelsRefused: 0,
      cancelsIgnored: 0,
      installsDone: 0,
      installsFailed: 0,
      reboots: 0,
      reportsRejected: 0,
    });
    expect(device.firmwareVersion).toBe('1.0.0');
    expect(device.record().completed).toMatchObject([{ attempt: 1, outcome: 'canceled' }]);

    // The retry of a canceled attempt is new work, not a repeat.
    release();
    fake.offer('cam-0001', 'del-1', 2, '2.0.0');
    await waitFor(() => fleet.summary().installsDone === 1);
    expect(fleet.summary().installsRepeated).toBe(0);
  });

  it('honours a cancel request while downloading', async () => {
    const { fake, fleet } = await setup();
    // A download that cannot finish: the pod answers with headers and no byte. The cancel comes
    // once the request is at the pod, so mid-download by construction.
    const artifact = fake.addArtifact(randomBytes(10_000));
    fake.stallDownloads.push(0);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0', { artifact });
    await waitFor(() => fake.artifactRequests.length === 1, { what: 'the download to start' });
    fake.cancel('cam-0001', 'del-1');
    await waitFor(() => fake.stateOf('del-1') === 'canceled');
    await settled(fleet);
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'canceled']);
    expect(fleet.summary().cancelsAccepted).toBe(1);
  });

  it('refuses a cancel request it can no longer honour: carries on and reports its real outcome', async () => {
    const events: DeviceEvent[] = [];
    // Held mid-install until both cancel requests were decided: they come while installing.
    const { hold, release } = releasedByCall();
    const { fake, fleet } = await setup({
      faults: { refuseCancelRate: 1 },
      installHold: hold,
      onEvent: (event) => events.push(event),
    });
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => fake.stateOf('del-1') === 'installing');
    fake.cancel('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().cancelsRefused === 1);
    fake.cancel('cam-0001', 'del-1'); // asked again: already decided
    await waitFor(() => fleet.summary().cancelsIgnored === 1, { what: 'the second request' });
    release();
    await waitFor(() => fleet.summary().installsDone === 1, { what: 'the install to carry on' });
    await settled(fleet, 'the restart');

    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'installed']);
    expect(fleet.summary()).toMatchObject({
      cancelsRefused: 1,
      cancelsAccepted: 0,
      cancelsIgnored: 1,
      reboots: 1,
      reportsRejected: 0,
    });
    expect(fake.stateOf('del-1')).toBe('succeeded');
    expect(fleet.devices[0]?.firmwareVersion).toBe('2.0.0');
    expect(events.filter((event) => event.type === 'cancel').map((event) => event.decision)).toEqual([
      'refused',
      'ignored',
    ]);
  });

  it('ignores a cancel for anything not in progress: unknown delivery, other attempt, finished work', async () => {
    const { fake, fleet } = await setup({ faults: { applyMs: 200 } });
    fake.cancel('cam-0001', 'del-unknown', 1);
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => fake.stateOf('del-1') === 'installing');
    fake.cancel('cam-0001', 'del-1', 2); // not the attempt in progress
    await waitFor(() => fleet.summary().cancelsIgnored === 2);
    await waitFor(() => fleet.summary().installsDone === 1);
    await settled(fleet);
    // Back from the restart: subscribed again (a cancel pushed before that would be lost). The
    // second subscription started, not just "one open": the old one may not be closed at the pod yet.
    const subscriptions = () => fake.subscriptions.filter((id) => id === 'cam-0001').length;
    await waitFor(() => subscriptions() === 2, { what: 'the device to subscribe again' });
    fake.cancel('cam-0001', 'del-1', 1); // finished here
    await waitFor(() => fleet.summary().cancelsIgnored === 3);

    expect(fake.reportsOf('del-unknown')).toEqual([]);
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing', 'installed']);
    expect(fake.stateOf('del-1')).toBe('succeeded');
    expect(fleet.summary()).toMatchObject({ cancelsAccepted: 0, cancelsRefused: 0, reportsRejected: 0 });
  });

  it('ignores a cancel for a hung attempt: it hears nothing', async () => {
    const { fake, fleet } = await setup({ faults: { hangRate: 1 } });
    fake.ackTimeoutMs = 300;
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().installsHung === 1);
    fake.cancel('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().cancelsIgnored === 1);
    await settled(fleet, 'the ack timeout');
    expect(fake.reportsOf('del-1').map((r) => r.status)).toEqual(['downloading', 'installing']);
  });

  it('takes a refused "canceled" report (delivery already finished) as a rejected report', async () => {
    // Held mid-install (never released): only the cancel can end it.
    const { fake, fleet } = await setup({ installHold: releasedByCall().hold });
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fake.stateOf('del-1') === 'installing');
    fake.reportFailure = { code: 'DELIVERY_FINISHED', message: 'delivery is canceled' };
    fake.cancel('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().reportsRejected === 1);
    await settled(fleet);

    expect(fake.reportsOf('del-1').at(-1)?.status).toBe('canceled');
    expect(fleet.summary()).toMatchObject({ cancelsAccepted: 1, installsDone: 0, reboots: 0 });
    expect(fleet.devices[0]?.record().completed).toMatchObject([{ outcome: 'rejected' }]);
  });
});
