import { waitFor } from '@camfleet/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, type FleetOptions } from './fleet.js';
import { FakeFleet, FakePod } from './testing/fake-pod.js';

const TOKEN = 'enroll-secret';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: Partial<FleetOptions> & { pods?: number } = {}) {
  const fake = new FakeFleet(TOKEN);
  const pods: FakePod[] = [];
  for (let i = 0; i < (options.pods ?? 1); i++) pods.push(await FakePod.start(fake));
  cleanups.push(async () => {
    for (const pod of pods) await pod.close();
  });
  const fleet = new Fleet({
    urls: pods.map((pod) => pod.url),
    devices: 1,
    token: TOKEN,
    staggerMs: 0,
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
    faults: { downloadMs: 10, applyMs: 40, crashDowntimeMs: 100, ...options.faults },
  });
  cleanups.push(() => fleet.stop());
  fleet.start();
  await waitFor(() => fleet.summary().connected === fleet.devices.length, { what: 'devices to register' });
  await waitFor(() => fake.subscribers.size === fleet.devices.length, { what: 'devices to subscribe' });
  return { fake, pods, fleet };
}

describe('SimulatedDevice against a fake pod', () => {
  it('registers, installs an offer, reports each phase and adopts the version', async () => {
    const { fake, fleet } = await setup({ devices: 3, model: 'cam-z', labels: { site: 'lab' } });
    for (const device of fleet.devices) fake.offer(device.id, `d-${device.id}`, 1, '2.0.0');
    await waitFor(() => fleet.summary().installsDone === 3, { what: 'three installs' });

    const summary = fleet.summary();
    expect(summary).toMatchObject({ devices: 3, offersReceived: 3, installsStarted: 3, installsRepeated: 0 });
    expect(summary.firmware).toEqual({ '2.0.0': 3 });
    expect(fake.reportsOf('d-cam-0001').map((r) => r.status)).toEqual([
      'downloading',
      'installing',
      'succeeded',
    ]);
    expect(fake.registrations[0]?.input).toEqual({
      model: 'cam-z',
      firmwareVersion: '1.0.0',
      labels: { site: 'lab' },
    });
    const record = fleet.device('cam-0002')?.record();
    expect(record?.completed).toMatchObject([{ deliveryId: 'd-cam-0002', attempt: 1, outcome: 'succeeded' }]);
  });

  it('answers a repeated offer of a finished attempt with its final report, not a new install', async () => {
    const { fake, fleet } = await setup();
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().installsDone === 1);
    // Pretend the server never got the final report and offers the same attempt again.
    const delivery = fake.deliveries.get('del-1')!;
    delivery.finalStatus = null;
    delivery.state = 'installing';
    fake.resend('del-1');
    await waitFor(() => fake.reportsOf('del-1').length === 4, { what: 'the final report again' });

    expect(fake.reportsOf('del-1').at(-1)?.status).toBe('succeeded');
    expect(fleet.summary()).toMatchObject({ installsStarted: 1, duplicateOffers: 1, installsRepeated: 0 });
  });

  it('ignores an offer for the attempt it is installing, and installs a newer attempt again', async () => {
    const { fake, fleet } = await setup({ faults: { failRate: 1, applyMs: 150 } });
    fake.offer('cam-0001', 'del-1', 1);
    await waitFor(() => fake.stateOf('del-1') === 'installing');
    fake.resend('del-1');
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
    fake.offer('cam-0001', 'del-1', 2); // a broken server re-offering finished work
    await waitFor(() => fleet.summary().installsDone === 2);
    expect(fleet.summary().installsRepeated).toBe(1);
  });

  it('stops working on an offer whose report is refused', async () => {
    const { fake, fleet } = await setup();
    fake.reportFailure = { code: 'STALE_ATTEMPT', message: 'attempt 2 is current' };
    fake.offer('cam-0001', 'del-1');
    await waitFor(() => fleet.summary().reportsRejected === 1);
    await new Promise((resolve) => setTimeout(resolve, 150));

    expect(fake.reportsOf('del-1')).toHaveLength(1);
    expect(fleet.summary()).toMatchObject({ installsStarted: 1, installsDone: 0, reportsRejected: 1 });
    expect(fleet.devices[0]?.busy).toBe(0);
    expect(fleet.device('cam-0001')?.record().completed[0]).toMatchObject({ outcome: 'rejected' });
  });

  it('goes silent on a hung attempt, then installs the retry its ack timeout brings', async () => {
    let stuck = true; // every draw 0 while stuck: attempt 1 hangs; 0.99 after: attempt 2 does not
    const { fake, fleet } = await setup({ faults: { hangRate: 0.5 }, random: () => (stuck ? 0 : 0.99) });
    const device = fleet.devices[0]!;
    fake.ackTimeoutMs = 300;
    fake.offer('cam-0001', 'del-1', 1, '2.0.0');
    await waitFor(() => fleet.summary().installsHung === 1, { what: 'the attempt to hang' });
    expect(device.busy).toBe(1); // stuck until the ack timeout
    fake.resend('del-1');
    await waitFor(() => device.busy === 0, { what: 'the ack timeout to pass' });
    fake.resend('del-1'); // re-sent after a resubscribe: still nothing for this attempt
    await new Promise((resolve) => setTimeout(resolve, 150));

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
      '2 succeeded',
    ]);
    expect(device.firmwareVersion).toBe('2.0.0');
    expect(device.record().completed).toMatchObject([
      { attempt: 1, outcome: 'hung' },
      { attempt: 2, outcome: 'succeeded' },
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
      token: TOKEN,
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
    const { fake, fleet } = await setup({ faults: { crashRate: 1, applyMs: 400 }, random: () => 0.5 });
    fake.offer('cam-0001', 'del-1', 1, '3.1.0');
    await waitFor(() => fleet.summary().installsDone === 1, {
      what: 'the install to finish after the crash',
    });

    expect(fleet.summary()).toMatchObject({
      crashes: 1,
      installsStarted: 1,
      installsRepeated: 0,
      duplicateOffers: 1,
    });
    expect(fake.registrations.map((r) => r.input.firmwareVersion)).toEqual(['1.0.0', '1.0.0']);
    expect(fake.stateOf('del-1')).toBe('succeeded');
  });

  it('fails over to the next pod when its pod goes away, and the final report still lands', async () => {
    const { fake, pods, fleet } = await setup({ devices: 4, pods: 2, faults: { applyMs: 300 } });
    const [a, b] = pods as [FakePod, FakePod];
    expect([a.connections, b.connections]).toEqual([2, 2]);
    for (const device of fleet.devices) fake.offer(device.id, `d-${device.id}`);
    await waitFor(() => [...fake.deliveries.values()].every((d) => d.state === 'installing'));
    await a.close();
    await waitFor(() => fleet.summary().installsDone === 4, { what: 'installs to finish on pod b' });

    expect(b.connections).toBe(4);
    expect(fleet.summary()).toMatchObject({ installsStarted: 4, installsRepeated: 0, reportsRejected: 0 });
    expect(fleet.summary().reconnects).toBeGreaterThanOrEqual(2);
  });

  it('leaves a draining pod for the next one when told to reconnect', async () => {
    const { fake, pods, fleet } = await setup({ devices: 2, pods: 2 });
    const [a, b] = pods as [FakePod, FakePod];
    a.broadcastReconnect();
    await waitFor(() => b.connections === 2 && fleet.summary().connected === 2, {
      what: 'both devices on pod b',
    });
    expect(a.connections).toBe(0);
    expect(fake.registrations).toHaveLength(3); // one device per pod, then cam-0001 again on b
    expect(fleet.records().map((record) => record.url)).toEqual([b.url, b.url]);
  });

  it('re-registers with the new firmware after a reconnect', async () => {
    const { fake, pods, fleet } = await setup();
    fake.offer('cam-0001', 'del-1', 1, '4.0.0');
    await waitFor(() => fleet.summary().installsDone === 1);
    pods[0]?.dropAll();
    await waitFor(() => fake.registrations.length === 2);
    expect(fake.registrations[1]?.input.firmwareVersion).toBe('4.0.0');
    expect(fleet.devices[0]?.firmwareVersion).toBe('4.0.0');
  });

  it('stops for good when the server refuses its credentials', async () => {
    const fake = new FakeFleet(TOKEN);
    const pod = await FakePod.start(fake);
    const fleet = new Fleet({
      urls: [pod.url],
      devices: 2,
      token: 'wrong',
      backoff: { baseMs: 1, maxMs: 5 },
    });
    cleanups.push(async () => {
      await fleet.stop();
      await pod.close();
    });
    fleet.start();
    await waitFor(() => fleet.allRejected, { what: 'both devices to be rejected' });
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(pod.opens).toBe(2);
    expect(fleet.summary()).toMatchObject({ rejectedDevices: 2, connects: 2, connected: 0 });
    expect(fleet.devices[0]?.record().rejection).toBe('device credentials refused');
  });

  it('keeps reconnecting with backoff while no pod is reachable', async () => {
    const fake = new FakeFleet(TOKEN);
    const pod = await FakePod.start(fake);
    const url = pod.url;
    await pod.close();
    const fleet = new Fleet({ urls: [url], devices: 1, token: TOKEN, backoff: { baseMs: 10, maxMs: 40 } });
    cleanups.push(() => fleet.stop());
    fleet.start();
    await waitFor(() => fleet.summary().reconnects >= 3, { what: 'a few failed attempts' });
    expect(fleet.devices[0]?.state).toMatch(/connecting|offline/);
    await fleet.stop();
    const after = fleet.summary().reconnects;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fleet.summary().reconnects).toBe(after);
  });
});
