import { RawDevice, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodUnderTest } from './testing/wire.js';

/**
 * The lean device transport (device-transport.ts) against tRPC's adapter (FLEET_DEVICE_TRANSPORT=
 * trpc): the same hostile session, frame by frame, gets byte-for-byte the same answers from both
 * (ids, times and hashes aside).
 */

let lean: PodUnderTest;
let trpc: PodUnderTest;

beforeAll(async () => {
  [lean, trpc] = await Promise.all([
    PodUnderTest.start(),
    PodUnderTest.start({ FLEET_DEVICE_TRANSPORT: 'trpc' }),
  ]);
});
afterAll(async () => {
  await Promise.all([lean?.close(), trpc?.close()]);
});

/** What differs between two fleets by construction: generated ids, times, hashes, versions. */
function normalized(text: string): string {
  return text
    .replace(/ro_[0-9a-f]+/g, 'ro_X')
    .replace(/pat_[0-9a-f]+/g, 'pat_X')
    .replace(/[0-9a-f]{64}/g, 'SHA')
    .replace(/"(firstSeenAt|lastSeenAt|deadlineAt|expiresAt)":\d+/g, '"$1":0')
    .replace(/"node":"[^"]*"/g, '"node":"N"')
    .replace(/"version":"[^"]*"/g, '"version":"V"');
}

/** Runs the session on a pod; returns what the server sent at each step (sorted within a step). */
async function session(pod: PodUnderTest): Promise<string[][]> {
  const credentials = await pod.enroll('eq-1');
  if (!('secret' in credentials)) throw new Error('no secret');
  const device = await RawDevice.open(pod.url, { deviceId: 'eq-1', secret: credentials.secret });
  const steps: string[][] = [];
  let seen = 0;
  const step = async (what: string, send: () => void, done: () => boolean) => {
    send();
    await waitFor(() => done() || undefined, { what });
    steps.push(device.texts.slice(seen).map(normalized).sort());
    seen = device.texts.length;
  };
  const answered = (...ids: Array<number | string | null>) =>
    ids.every((id) =>
      device.frames.slice(seen).some((frame) => typeof frame === 'object' && frame.id === id),
    );
  const idNullErrors = () =>
    device.frames.filter((frame) => typeof frame === 'object' && frame.id === null).length;
  const request = (id: number | string, method: string, path: string, input: unknown, extra = {}) => ({
    id,
    method,
    params: { path, input: { json: input }, ...extra },
  });
  /** Event ids delivered on subscription 2 (its frames include an error: not `device.events`). */
  const eventIds = () =>
    device.frames.flatMap((frame) => {
      if (typeof frame !== 'object' || frame.id !== 2) return [];
      const result = frame.result as { type?: string; id?: string } | undefined;
      return result?.type === 'data' && result.id ? [result.id] : [];
    });
  const register = { model: 'cam-x', firmwareVersion: '1.0.0', labels: { site: 'north' } };

  await step(
    'PONG',
    () => device.send('PING'),
    () => device.texts.slice(seen).includes('PONG'),
  );
  await step(
    'register',
    () => device.sendJson(request(1, 'mutation', 'device.register', register)),
    () => answered(1),
  );
  await step(
    'subscribe with params.lastEventId',
    () =>
      device.sendJson(
        request(2, 'subscription', 'device.offers', { lastEventId: 'a' }, { lastEventId: 'ro_1:eq-1#1' }),
      ),
    () => answered(2),
  );
  await step(
    'a duplicate subscription id',
    () => device.sendJson(request(2, 'subscription', 'device.offers', {})),
    () => answered(2),
  );
  await step(
    'a batch',
    () =>
      device.sendJson([
        request(3, 'mutation', 'device.report', { deliveryId: 'ro_1:eq-1', attempt: '1', status: 'bogus' }),
        request(4, 'mutation', 'device.nope', {}),
        request('s', 'query', 'device.report', {}),
        request(5, 'mutation', 'rollout.cancel', { rolloutId: 'ro_1' }),
        request(6, 'mutation', 'device.enroll', null),
      ]),
    () => answered(3, 4, 's', 5, 6),
  );
  for (const [what, send] of [
    ['not JSON', () => device.send('not json')],
    ['a binary frame', () => device.socket.send(Buffer.from('{}'), { binary: true })],
    ['an id-null request', () => device.sendJson(request(0, 'mutation', 'device.register', register, {}))],
    ['no input', () => device.sendJson({ id: 7, method: 'mutation', params: { path: 'device.report' } })],
    ['a bad batch', () => device.sendJson([request(8, 'mutation', 'device.register', register), 'x'])],
    ['a bad method', () => device.sendJson({ id: 9, method: 'nope', params: { path: 'device.register' } })],
  ] as const) {
    const before = idNullErrors();
    await step(
      what,
      what === 'an id-null request'
        ? () => device.sendJson({ ...request(0, 'mutation', 'device.register', register), id: null })
        : send,
      () => idNullErrors() > before,
    );
  }
  await step(
    'JSON-RPC 2.0 and an unknown delivery',
    () =>
      device.sendJson({
        jsonrpc: '2.0',
        ...request(10, 'mutation', 'device.artifactUrl', { deliveryId: 'ro_zzz:eq-1', attempt: 1 }),
      }),
    () => answered(10),
  );
  await step(
    'an offer',
    () => void pod.publishAndRollOut(),
    () => eventIds().length > 0,
  );
  const offerId = eventIds()[0] ?? '';
  const deliveryId = offerId.split('#')[0] ?? '';
  await step(
    'a report',
    () =>
      device.sendJson(
        request(11, 'mutation', 'device.report', {
          deliveryId,
          attempt: 1,
          status: 'downloading',
          progress: 5,
        }),
      ),
    () => answered(11),
  );
  await step(
    'a newer subscription that saw the offer',
    () => device.sendJson(request(12, 'subscription', 'device.offers', { lastEventId: offerId })),
    () => answered(12),
  );
  await step(
    'subscription.stop',
    () => device.sendJson({ id: 2, method: 'subscription.stop' }),
    () => answered(2),
  );
  await step(
    'a stale report',
    () =>
      device.sendJson(
        request(13, 'mutation', 'device.report', { deliveryId, attempt: 2, status: 'installing' }),
      ),
    () => answered(13),
  );
  device.close();
  return steps;
}

describe('the lean device transport', () => {
  it('answers a device exactly as tRPC’s adapter does, frame by frame', async () => {
    const [fromLean, fromTrpc] = await Promise.all([session(lean), session(trpc)]);
    expect(fromLean.flat().length).toBeGreaterThan(20);
    expect(fromLean).toEqual(fromTrpc);
  });

  it('refuses wrong credentials, and serves an admin token through tRPC’s adapter', async () => {
    for (const pod of [lean, trpc]) {
      const refused = await RawDevice.open(pod.url, { deviceId: 'eq-2', secret: 'cfd_wrong' });
      expect((await refused.error(null)).message).toBe('credentials refused');
      await refused.closed();
    }
    const frames: string[][] = [];
    for (const pod of [lean, trpc]) {
      const admin = await RawDevice.open(pod.url, { token: 'not-a-token' });
      await admin.error(null);
      frames.push(admin.texts);
      admin.close();
    }
    expect(frames[0]).toEqual(frames[1]);
  });
});
