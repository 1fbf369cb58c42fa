import { createHash, randomBytes } from 'node:crypto';
import { waitFor } from '@camfleet/test-support';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, failure, podPerSuite } from './testing/wire.js';

// Its own pod: the check reads every stored id, so only this file's devices may be there.
const suite = podPerSuite();

/** Stores a device the way device_register.lua of an older version did, id unchecked. */
async function storeAsOldVersion(deviceId: string): Promise<void> {
  const { redis, keys } = suite.pod;
  const now = Date.now();
  await redis.hset(keys.device(deviceId), {
    id: deviceId,
    firstSeen: now,
    lastSeen: now,
    active: '',
    online: 0,
    node: '',
    conn: '',
    model: 'cam-x',
    firmware: '1.0',
    labels: '{}',
  });
  await redis.zadd(keys.bucketOfDevice(deviceId).key('devices'), 0, deviceId);
}

describe('device ids: letters, digits and . _ -, never ":"', () => {
  it('devices.checkIds reports stored ids that break the rule, and such a device can still be read', async () => {
    const device = await suite.pod.connectDevice('ok-cam-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    await storeAsOldVersion('site:north:cam-7');
    await storeAsOldVersion('plant:cam-8');

    const check = await suite.pod.admin.client.devices.checkIds.query({});
    expect(check.checked).toBe(3);
    expect(check.badCount).toBe(2);
    expect(check.bad.map((b) => b.deviceId).sort()).toEqual(['plant:cam-8', 'site:north:cam-7']);
    expect(check.bad[0]?.problem).toMatch(/':' is not allowed/);
    // A limit bounds the list, not the count.
    const limited = await suite.pod.admin.client.devices.checkIds.query({ limit: 1 });
    expect(limited).toMatchObject({ checked: 3, badCount: 2 });
    expect(limited.bad).toHaveLength(1);

    // Old ids stay visible and addressable (to inspect and retire them), never creatable again.
    const page = await suite.pod.admin.client.devices.list.query({ limit: 100 });
    expect(page.devices.map((d) => d.id)).toContain('plant:cam-8');
    expect((await suite.pod.admin.client.devices.get.query({ deviceId: 'plant:cam-8' })).device.model).toBe(
      'cam-x',
    );
    expect(
      await failure(suite.pod.admin.client.devices.credentials.provision.mutate({ deviceId: 'new:cam' })),
    ).toEqual({ trpc: 'BAD_REQUEST', fleet: null });
  });

  it('a device whose id uses every allowed class (Cam-01.a_b) is provisioned and downloads its artifact', async () => {
    const deviceId = 'Cam-01.a_b';
    const { secret } = await suite.pod.admin.client.devices.credentials.provision.mutate({ deviceId });
    const device = await suite.pod.connectDevice(deviceId, { secret });
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });

    const bytes = randomBytes(64 * 1024);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const upload = await fetch(`${suite.pod.url}/artifacts`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: bytes,
    });
    expect(upload.status).toBe(201);
    const patch = await suite.pod.admin.client.patch.publish.mutate({
      name: 'fw',
      version: '2.0',
      artifact: { sha256, size: bytes.length },
    });
    await suite.pod.admin.client.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'devices', deviceIds: [deviceId] },
    });
    const offer = await waitFor(() => device.offers.find((o) => o.patch.id === patch.id), {
      what: `the offer to ${deviceId}`,
    });
    const download = await fetch(`${suite.pod.url}${offer.patch.artifact?.url ?? ''}`, {
      headers: { authorization: `Device ${deviceId}:${secret}` },
    });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);

    // Each id is checked: the new one keeps the rule.
    const check = await suite.pod.admin.client.devices.checkIds.query({});
    expect(check.bad.map((b) => b.deviceId)).not.toContain(deviceId);
  });
});
