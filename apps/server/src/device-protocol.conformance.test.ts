import { loadProtocolSchemas } from '@camfleet/contracts/protocol/validate';
import { RawDevice, type WireErrorOf, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENROLL_TOKEN, PodUnderTest } from './testing/wire.js';

/**
 * Device protocol 1 (docs/device-protocol.md) spoken frame by frame by a hostile client: every
 * malformed frame the spec names gets the error the spec documents, and changes nothing in Redis.
 */

const AUTH_DEADLINE_MS = 400;

let pod: PodUnderTest;
/** Every raw device of these tests: what the server sent each is checked against the committed schemas. */
const opened: RawDevice[] = [];

beforeAll(async () => {
  pod = await PodUnderTest.start({ FLEET_AUTH_DEADLINE_MS: String(AUTH_DEADLINE_MS) });
});
afterAll(async () => {
  await pod?.close();
});

function track(device: RawDevice): RawDevice {
  opened.push(device);
  return device;
}

/** Enrolls a device with the pod's token: its own secret. */
async function secretOf(deviceId: string): Promise<string> {
  const credentials = await pod.enroll(deviceId);
  if (!('secret' in credentials)) throw new Error('enrollment gave no secret');
  return credentials.secret;
}

/** A registered device on a raw socket, with its offers subscription (request id 2). */
async function registeredDevice(deviceId: string): Promise<RawDevice> {
  const secret = await secretOf(deviceId);
  const device = track(await RawDevice.open(pod.url, { deviceId, secret }));
  await device.result(
    device.request('mutation', 'device.register', { model: 'cam-x', firmwareVersion: '1.0.0' }),
  );
  const subscription = device.request('subscription', 'device.offers', {});
  expect(subscription).toBe(2);
  await device.answer(subscription);
  return device;
}

/** The offer events a device has received on its subscription. */
interface OfferSeen {
  deliveryId: string;
  attempt: number;
  offerId: string;
  patch: { version: string };
}

function offersOf(device: RawDevice): OfferSeen[] {
  return device
    .events(2)
    .filter(([, event]) => event.type === 'offer')
    .map(([, event]) => event.offer as OfferSeen);
}

/** A `device.report` request of the offer's delivery; `fields` adds to or overrides its attempt and status. */
function report(device: RawDevice, deliveryId: string, fields: Record<string, unknown>): number {
  return device.request('mutation', 'device.report', { deliveryId, attempt: 1, ...fields });
}

/** Sends a request and returns its error, checking that Redis is exactly as before. */
async function refusedWithoutChange(
  device: RawDevice,
  send: () => number | string | null,
): Promise<WireErrorOf> {
  const before = await pod.digest();
  const error = await device.error(send());
  expect(await pod.digest()).toBe(before);
  return error;
}

describe('device protocol 1: what a hostile client sends is refused as documented and changes nothing', () => {
  let device: RawDevice;
  let offer: OfferSeen;

  beforeAll(async () => {
    device = await registeredDevice('proto-1');
    await pod.publishAndRollOut({ retryBackoff: { baseMs: 10, maxMs: 10 } });
    offer = await waitFor(() => offersOf(device)[0], { what: 'the offer' });
  });
  afterAll(() => device.close());

  it('answers a frame that is not JSON with PARSE_ERROR (id null) and keeps the connection', async () => {
    const error = await refusedWithoutChange(device, () => {
      device.send('not json');
      return null;
    });
    expect(error).toMatchObject({ code: -32700, data: { code: 'PARSE_ERROR', fleetCode: null } });
    expect(
      await device.result(
        device.request('mutation', 'device.register', { model: 'cam-x', firmwareVersion: '1.0.0' }),
      ),
    ).toMatchObject({ id: 'proto-1' });
  });

  it('refuses an unknown procedure and a procedure called with the wrong method: NOT_FOUND', async () => {
    const unknown = await refusedWithoutChange(device, () => device.request('mutation', 'device.nope', {}));
    expect(unknown).toMatchObject({ code: -32004, data: { code: 'NOT_FOUND', path: 'device.nope' } });
    const wrongMethod = await refusedWithoutChange(device, () =>
      device.request('query', 'device.report', {
        deliveryId: offer.deliveryId,
        attempt: 1,
        status: 'installing',
      }),
    );
    expect(wrongMethod).toMatchObject({ code: -32004, data: { code: 'NOT_FOUND' } });
  });

  it('refuses admin procedures and enrollment to a device: UNAUTHORIZED, FORBIDDEN', async () => {
    const admin = await refusedWithoutChange(device, () =>
      device.request('mutation', 'rollout.cancel', { rolloutId: offer.deliveryId.split(':')[0] }),
    );
    expect(admin).toMatchObject({ code: -32001, data: { code: 'UNAUTHORIZED' } });
    const enroll = await refusedWithoutChange(device, () =>
      device.request('mutation', 'device.enroll', null),
    );
    expect(enroll).toMatchObject({ code: -32003, data: { code: 'FORBIDDEN' } });
  });

  it('refuses wrong types and missing fields with BAD_REQUEST naming each field', async () => {
    const wrongTypes = await refusedWithoutChange(device, () =>
      device.request('mutation', 'device.report', {
        deliveryId: offer.deliveryId,
        attempt: '1',
        status: 'bogus',
      }),
    );
    expect(wrongTypes).toMatchObject({ code: -32600, data: { code: 'BAD_REQUEST', fleetCode: null } });
    expect(Object.keys(wrongTypes.data.zodIssues?.fieldErrors ?? {}).sort()).toEqual(['attempt', 'status']);

    const failedWithoutError = await refusedWithoutChange(device, () =>
      report(device, offer.deliveryId, { status: 'failed' }),
    );
    expect(failedWithoutError.data.zodIssues?.fieldErrors).toHaveProperty('error');
    const succeededWithoutVersion = await refusedWithoutChange(device, () =>
      report(device, offer.deliveryId, { status: 'succeeded' }),
    );
    expect(succeededWithoutVersion.data.zodIssues?.fieldErrors).toHaveProperty('firmwareVersion');
  });

  it('refuses control characters and oversize text, in reports and in registration', async () => {
    const control = await refusedWithoutChange(device, () =>
      report(device, offer.deliveryId, { status: 'failed', error: 'disk \u001b[31mfull' }),
    );
    expect(control.data.zodIssues?.fieldErrors).toHaveProperty('error');
    const longError = await refusedWithoutChange(device, () =>
      report(device, offer.deliveryId, { status: 'failed', error: 'x'.repeat(1025) }),
    );
    expect(longError.data.code).toBe('BAD_REQUEST');
    const bidi = await refusedWithoutChange(device, () =>
      device.request('mutation', 'device.register', { model: 'cam\u202ex', firmwareVersion: '1.0.0' }),
    );
    expect(bidi.data.zodIssues?.fieldErrors).toHaveProperty('model');
  });

  it('reads an input without the superjson envelope as none (BAD_REQUEST), and no input at all as PARSE_ERROR', async () => {
    const bare = await refusedWithoutChange(device, () => {
      device.sendJson({
        id: 'bare',
        method: 'mutation',
        params: {
          path: 'device.report',
          input: { deliveryId: offer.deliveryId, attempt: 1, status: 'installing' },
        },
      });
      return 'bare';
    });
    expect(bare.data.code).toBe('BAD_REQUEST');
    const connectionErrors = () =>
      device.frames.filter((frame) => typeof frame === 'object' && frame.id === null && frame.error).length;
    const seen = connectionErrors();
    const before = await pod.digest();
    device.sendJson({ id: 'none', method: 'mutation', params: { path: 'device.report' } });
    await waitFor(() => connectionErrors() > seen, {
      what: 'an id-null error for the request without input',
    });
    const last = device.frames.at(-1) as { error: { json: WireErrorOf } };
    expect(last.error.json.data.code).toBe('PARSE_ERROR');
    expect(await pod.digest()).toBe(before);
  });

  it('refuses a report for another device’s delivery (FORBIDDEN) and for an unknown rollout (NOT_FOUND)', async () => {
    const other = await refusedWithoutChange(device, () =>
      device.request('mutation', 'device.report', {
        deliveryId: `${offer.deliveryId.split(':')[0]}:proto-other`,
        attempt: 1,
        status: 'installing',
      }),
    );
    expect(other).toMatchObject({ code: -32003, data: { code: 'FORBIDDEN', fleetCode: 'FORBIDDEN' } });
    const unknown = await refusedWithoutChange(device, () =>
      device.request('mutation', 'device.report', {
        deliveryId: 'ro_unknown:proto-1',
        attempt: 1,
        status: 'installing',
      }),
    );
    expect(unknown).toMatchObject({ code: -32004, data: { code: 'NOT_FOUND', fleetCode: 'NOT_FOUND' } });
  });

  it('refuses canceled without a cancel request: CONFLICT, INVALID_TRANSITION', async () => {
    const error = await refusedWithoutChange(device, () =>
      report(device, offer.deliveryId, { status: 'canceled' }),
    );
    expect(error).toMatchObject({
      code: -32009,
      data: { code: 'CONFLICT', fleetCode: 'INVALID_TRANSITION' },
    });
  });

  it('refuses a report for an attempt that timed out, and for it once a newer attempt is offered: STALE_ATTEMPT', async () => {
    await device.result(report(device, offer.deliveryId, { status: 'downloading', progress: 10 }));
    const rolloutId = offer.deliveryId.split(':')[0] ?? '';
    await pod.passDeadline(rolloutId, 'proto-1');
    const second = await waitFor(() => offersOf(device).find((o) => o.attempt === 2), {
      what: 'attempt 2 offered after attempt 1 timed out',
    });
    expect(second.offerId).toBe(`${offer.deliveryId}#2`);
    const stale = await refusedWithoutChange(device, () =>
      report(device, offer.deliveryId, { status: 'installing' }),
    );
    expect(stale).toMatchObject({ code: -32009, data: { code: 'CONFLICT', fleetCode: 'STALE_ATTEMPT' } });
    expect(stale.message).toContain('attempt 1 is not the current attempt 2');
    offer = second;
  });

  it('answers a repeated final report as a duplicate, and any other report on a finished delivery with DELIVERY_FINISHED', async () => {
    const done = {
      deliveryId: offer.deliveryId,
      attempt: offer.attempt,
      status: 'succeeded',
      firmwareVersion: offer.patch.version,
    };
    expect(await device.result(device.request('mutation', 'device.report', done))).toMatchObject({
      state: 'succeeded',
      duplicate: false,
    });
    const before = await pod.digest();
    expect(await device.result(device.request('mutation', 'device.report', done))).toMatchObject({
      state: 'succeeded',
      duplicate: true,
    });
    expect(await pod.digest()).toBe(before);
    const late = await refusedWithoutChange(device, () =>
      device.request('mutation', 'device.report', {
        deliveryId: offer.deliveryId,
        attempt: offer.attempt,
        status: 'installing',
      }),
    );
    expect(late).toMatchObject({ code: -32009, data: { fleetCode: 'DELIVERY_FINISHED' } });
  });

  it('refuses an oversize lastEventId, and the 11th subscription of a connection (TOO_MANY_REQUESTS)', async () => {
    const longId = await refusedWithoutChange(device, () =>
      device.request('subscription', 'device.offers', { lastEventId: 'x'.repeat(301) }),
    );
    expect(longId.data.code).toBe('BAD_REQUEST');

    const extra = await registeredDevice('proto-subs');
    const ids = Array.from({ length: 9 }, () => extra.request('subscription', 'device.offers', {}));
    for (const id of ids) expect((await extra.answer(id)).result).toEqual({ type: 'started' });
    // A subscription's own refusal comes after its `started`, and is followed by `stopped`.
    const eleventh = extra.request('subscription', 'device.offers', {});
    const refused = await extra.error(eleventh);
    await waitFor(
      () =>
        extra.frames.some(
          (f) =>
            typeof f === 'object' && f.id === eleventh && (f.result as { type?: string })?.type === 'stopped',
        ),
      { what: 'the refused subscription stopped' },
    );
    expect(refused).toMatchObject({
      code: -32029,
      data: {
        code: 'TOO_MANY_REQUESTS',
        limit: { name: 'subscriptions_per_connection', knob: 'FLEET_WS_MAX_SUBSCRIPTIONS' },
      },
    });
    extra.close();
  });
});

describe('device protocol 1: connection-level refusals', () => {
  it('refuses a wrong secret with one id-null UNAUTHORIZED frame and closes, changing no device', async () => {
    await pod.enroll('proto-2');
    const device = track(await RawDevice.open(pod.url, { deviceId: 'proto-2', secret: 'cfd_wrong' }));
    const error = await device.error(null);
    expect(error).toMatchObject({
      code: -32001,
      message: 'credentials refused',
      data: { code: 'UNAUTHORIZED' },
    });
    await device.closed();
    expect(await pod.redis.hget(pod.keys.device('proto-2'), 'online')).not.toBe('1');
  });

  it('refuses a second enrollment of an enrolled id', async () => {
    const device = track(await RawDevice.open(pod.url, { deviceId: 'proto-2', enrollToken: ENROLL_TOKEN }));
    expect((await device.error(null)).data.code).toBe('UNAUTHORIZED');
    await device.closed();
  });

  it('closes a socket that sends no connectionParams with 4003', async () => {
    const silent = await RawDevice.open(pod.url, null);
    expect(await silent.closed()).toBe(4003);
  });

  it('closes a connection that sends a frame over 64 KiB with 1009, before reading it', async () => {
    const device = await registeredDevice('proto-3');
    device.send(
      JSON.stringify({
        id: 9,
        method: 'mutation',
        params: { path: 'device.report', input: { json: { error: 'x'.repeat(70_000) } } },
      }),
    );
    expect(await device.closed()).toBe(1009);
    await waitFor(async () => (await pod.redis.hget(pod.keys.device('proto-3'), 'online')) !== '1', {
      what: 'the device offline after its connection closed',
    });
  });

  it('closes a connection that floods more than 50 messages a second with 1008', async () => {
    const device = await registeredDevice('proto-4');
    for (let i = 0; i < 300; i++) device.send('PING');
    expect(await device.closed()).toBe(1008);
  });

  it('answers PING with PONG', async () => {
    const device = await registeredDevice('proto-5');
    device.send('PING');
    await waitFor(() => device.frames.includes('PONG'), { what: 'PONG' });
    device.close();
  });

  it('closes the older connection with 4002 when the same device registers on a newer one', async () => {
    const secret = await secretOf('proto-6');
    const older = track(await RawDevice.open(pod.url, { deviceId: 'proto-6', secret }));
    await older.result(older.request('mutation', 'device.register', { model: 'm', firmwareVersion: '1' }));
    const newer = track(await RawDevice.open(pod.url, { deviceId: 'proto-6', secret }));
    await newer.result(newer.request('mutation', 'device.register', { model: 'm', firmwareVersion: '1' }));
    expect(await older.closed()).toBe(4002);
    expect(newer.closeCode).toBeNull();
    newer.close();
  });
});

// Last: by now every test above has collected what the server sent.
describe('device protocol 1: the schemas', () => {
  it('sent only frames the committed JSON Schemas (docs/device-protocol/schemas) describe', () => {
    const schemas = loadProtocolSchemas();
    const texts = opened.flatMap((device) => device.texts);
    expect(texts.length).toBeGreaterThan(50);
    for (const text of texts) schemas.checkServerText(text);
  });
});
