import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_TOKEN, failure, podPerSuite } from './testing/wire.js';

// A pod of its own: no earlier test's work moves in the background while "nothing changed" is checked.
const suite = podPerSuite();

describe('bad input over the wire changes nothing', () => {
  it('answers each public procedure’s bad input with a clear error', async () => {
    const device = await suite.pod.connectDevice('badin-1');
    await device.client.device.register.mutate({ model: 'm', firmwareVersion: '1' });
    const before = await suite.pod.digest();
    const c = suite.pod.admin.client;
    const cases: Array<[() => Promise<unknown>, string, string | null]> = [
      [() => device.client.device.register.mutate({ model: '', firmwareVersion: '1' }), 'BAD_REQUEST', null],
      [
        () =>
          device.client.device.report.mutate({ deliveryId: 'ro_x:badin-1', attempt: 1, status: 'installed' }),
        'NOT_FOUND',
        'NOT_FOUND',
      ],
      [
        () => device.client.device.report.mutate({ deliveryId: 'x', attempt: -1, status: 'installed' }),
        'BAD_REQUEST',
        null,
      ],
      [() => c.patch.publish.mutate({ name: 'fw', version: 'v'.repeat(100) }), 'BAD_REQUEST', null],
      [() => c.patch.get.query({ patchId: 'pat_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.rollout.create.mutate({ patchId: 'pat_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.rollout.create.mutate({ patchId: 'pat_x', ackTimeoutMs: 1 }), 'BAD_REQUEST', null],
      [() => c.rollout.get.query({ rolloutId: 'ro_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.rollout.cancel.mutate({ rolloutId: 'ro_doesnotexist' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.devices.get.query({ deviceId: 'nobody' }), 'NOT_FOUND', 'NOT_FOUND'],
      [() => c.devices.list.query({ cursor: 'garbage' }), 'BAD_REQUEST', 'INVALID_INPUT'],
    ];
    for (const [call, trpc, fleet] of cases) {
      expect(await failure(call())).toEqual({ trpc, fleet });
    }
    expect(await suite.pod.digest()).toBe(before);
  });

  it('drops an oversized frame and a malformed one without changing anything', async () => {
    const before = await suite.pod.digest();
    const url = `${suite.pod.url.replace('http', 'ws')}/trpc`;
    const socket = new WebSocket(url);
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    socket.send('{"not":"trpc"');
    socket.send('x'.repeat(200 * 1024));
    // The server cuts a connection that sends more than maxPayload.
    expect(await closed).toBe(true);
    const response = await fetch(`${suite.pod.url}/trpc/patch.publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ json: { name: 'fw', version: '1', notes: 'n'.repeat(3 * 1024 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(await suite.pod.digest()).toBe(before);
  });

  it('takes the largest legitimate admin input: a rollout naming 10,000 devices with long ids', async () => {
    const admin = suite.pod.admin.client;
    const patch = await admin.patch.publish.mutate({ name: 'many-ids', version: '1.0.0' });
    const deviceIds = Array.from(
      { length: 10_000 },
      (_, i) => `${'d'.repeat(120)}-${String(i).padStart(5, '0')}`,
    );
    const rollout = await admin.rollout.create.mutate({
      patchId: patch.id,
      target: { kind: 'devices', deviceIds },
    });
    // None of them exists yet: nothing is targeted, but the whole list was taken.
    expect(rollout.targeted).toBe(0);
    expect(rollout.target).toMatchObject({ kind: 'devices' });
  });
});
