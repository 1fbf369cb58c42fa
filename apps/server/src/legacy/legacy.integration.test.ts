import { LegacyCamera, LegacyRefused, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodUnderTest } from '../testing/wire.js';

const TOKEN = 'legacy-shared-token-0123';

let pod: PodUnderTest;
const cameras: LegacyCamera[] = [];
beforeAll(async () => {
  pod = await PodUnderTest.start({
    FLEET_LEGACY_PROTOCOL: 'on',
    FLEET_LEGACY_TOKEN: TOKEN,
    FLEET_LEGACY_DEVICE_IDS: 'cam-1,cam-2,cam-3,cam-4,typed-1',
  });
});
afterAll(async () => {
  for (const camera of cameras) camera.close();
  await pod.close();
});

async function camera(
  id: string,
  options: Parameters<typeof LegacyCamera.connect>[2] = {},
): Promise<LegacyCamera> {
  const connected = await LegacyCamera.connect(pod.url, id, { token: TOKEN, ...options });
  cameras.push(connected);
  return connected;
}

async function refusal(id: string, token?: string): Promise<number> {
  try {
    (await LegacyCamera.connect(pod.url, id, token === undefined ? {} : { token })).close();
  } catch (error) {
    if (error instanceof LegacyRefused) return error.status;
    throw error;
  }
  throw new Error('expected the connection to be refused');
}

describe('the original device protocol on /ws/<device_id>', () => {
  it('registers a camera as a device labelled protocol=legacy, and reports its answer for its delivery', async () => {
    const cam = await camera('cam-1');
    await waitFor(async () => (await pod.admin.client.fleet.stats.query()).online === 1, {
      what: 'cam-1 online',
    });
    const { devices } = await pod.admin.client.devices.list.query({});
    expect(devices.find((d) => d.id === 'cam-1')?.labels).toMatchObject({ protocol: 'legacy' });

    // For cam-1 alone: a rollout for all would stay live and take in the cameras of later tests.
    const rollout = await pod.publishAndRollOut({ target: { kind: 'devices', deviceIds: ['cam-1'] } });
    const [update] = await cam.waitForUpdates(1);
    expect(update).toMatchObject({ patch_file: 'fw', patch_path: '/patches/fw' });
    expect(typeof update?.timestamp).toBe('number');
    await waitFor(
      async () =>
        (await pod.admin.client.rollout.get.query({ rolloutId: rollout.id })).counts.succeeded === 1,
      {
        what: 'the success to be recorded',
      },
    );
    const detail = await pod.admin.client.devices.get.query({ deviceId: 'cam-1' });
    expect(detail.device.firmwareVersion).toBe(rollout.patch.version);
  });

  it('ignores malformed frames, unknown echoes and answers for other ids, and keeps the connection', async () => {
    const cam = await camera('cam-2', { behaviour: () => 'silent' });
    // For cam-2 alone: cam-1 (still connected from the test before) would answer an update at once,
    // and its answer could land in the middle of the digests below; and the update cam-2 gets (and
    // answers) is this rollout's.
    const rollout = await pod.publishAndRollOut({ target: { kind: 'devices', deviceIds: ['cam-2'] } });
    const [update] = await cam.waitForUpdates(1);
    const before = await pod.digest();
    cam.send('not json');
    cam.send(Buffer.from([1, 2, 3]));
    cam.send(JSON.stringify({ status: 'maybe', device_id: 'cam-2', update }));
    cam.send(JSON.stringify({ status: 'success', device_id: 'cam-2', update: { ...update, timestamp: 1 } }));
    cam.send(JSON.stringify({ status: 'success', device_id: 'cam-3', update }));
    cam.send(JSON.stringify([1, 2]));
    // Nothing changed in Redis, and the camera is still connected: its real answer still counts.
    await new Promise<void>((resolve) => cam.ws.ping(undefined, undefined, () => resolve()));
    expect(await pod.digest()).toBe(before);
    expect(cam.closeCode).toBeNull();
    cam.send(JSON.stringify({ status: 'success', device_id: 'cam-2', update }));
    await waitFor(
      async () =>
        (await pod.admin.client.rollout.get.query({ rolloutId: rollout.id })).counts.succeeded === 1,
      {
        what: 'the real answer to count',
      },
    );
  });

  it('closes a camera that sends an oversized frame, cleanly (1009)', async () => {
    const cam = await camera('cam-4');
    cam.send('x'.repeat(64 * 1024));
    await waitFor(() => cam.closeCode !== null, { what: 'the close' });
    expect(cam.closeCode).toBe(1009);
  });

  it('refuses what the configuration does not let in, before the upgrade, with a clear status', async () => {
    expect(await refusal('cam-1')).toBe(401); // no token
    expect(await refusal('cam-1', 'wrong-token-0123456789')).toBe(401);
    expect(await refusal('stranger', TOKEN)).toBe(403); // not on the allow-list
    expect(await refusal('bad id!', TOKEN)).toBe(400);
    // A device with its own credential is a typed camera's: the legacy door cannot take it over.
    await pod.enroll('typed-1');
    expect(await refusal('typed-1', TOKEN)).toBe(403);
  });
});

describe('with FLEET_LEGACY_PROTOCOL off (the default)', () => {
  it('answers /ws/<id> with 404', async () => {
    const off = await PodUnderTest.start();
    try {
      await expect(LegacyCamera.connect(off.url, 'cam-1')).rejects.toMatchObject({ status: 404 });
    } finally {
      await off.close();
    }
  });
});
