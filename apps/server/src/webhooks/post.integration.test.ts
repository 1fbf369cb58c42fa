import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifies, WebhookReceiver } from '../testing/webhook-receiver.js';
import { postWebhook } from './post.js';
import { webhookHeaders } from './signature.js';
import { type ResolvedAddress, TargetPolicy } from './targets.js';

/* One POST against a real receiver on loopback: what it sends, what it refuses, how long it waits. */

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await WebhookReceiver.start();
});
afterAll(async () => {
  await receiver.stop();
});

const open = new TargetPolicy({ allowPrivate: true, allowCidrs: [] });
const SECRET = 'whsec_post-test';

function post(url: string, policy = open, timeoutMs = 1_000) {
  const body = JSON.stringify({ id: 'e1', type: 'ping', time: new Date().toISOString(), data: {} });
  const headers = webhookHeaders({
    secret: SECRET,
    type: 'ping',
    deliveryId: 'wh_x/e1',
    attempt: 1,
    timestampSeconds: Math.floor(Date.now() / 1000),
    body,
  });
  return postWebhook({ url, body, headers, timeoutMs, policy });
}

describe('one webhook POST', () => {
  it('sends the signed JSON body and reports a 2xx', async () => {
    receiver.answer = () => ({ status: 202 });
    expect(await post(receiver.url('/ok'))).toEqual({ ok: true, status: 202 });
    const got = receiver.received.at(-1);
    expect(got).toMatchObject({ path: '/ok', event: 'ping', delivery: 'wh_x/e1', attempt: 1, id: 'e1' });
    expect(verifies(SECRET, got ?? { timestamp: '', signature: '', body: '' })).toBe(true);
  });

  it('reports an error status with a little of the body, on one clean line', async () => {
    receiver.answer = () => ({ status: 500 });
    expect(await post(receiver.url('/err'))).toEqual({
      ok: false,
      kind: 'http',
      status: 500,
      error: 'HTTP 500: nope',
    });
  });

  it('does not follow a redirect', async () => {
    const before = receiver.received.length;
    receiver.answer = (r) =>
      r.path === '/moved' ? { status: 301, location: receiver.url('/target') } : { status: 200 };
    expect(await post(receiver.url('/moved'))).toEqual({
      ok: false,
      kind: 'redirect',
      status: 301,
      error: `HTTP 301: a redirect (to ${receiver.url('/target')}), not followed`,
    });
    expect(receiver.received.slice(before).map((r) => r.path)).toEqual(['/moved']);
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    receiver.answer = () => 'hang';
    const started = Date.now();
    expect(await post(receiver.url('/slow'), open, 200)).toEqual({
      ok: false,
      kind: 'timeout',
      status: null,
      error: 'no answer within 200 ms',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect.poll(() => receiver.holding).toBe(0);
  });

  it('reports a refused connection', async () => {
    const down = await WebhookReceiver.start();
    const url = down.url();
    await down.stop();
    expect(await post(url)).toEqual({ ok: false, kind: 'network', status: null, error: 'ECONNREFUSED' });
  });

  it('refuses loopback without the knob, by address and by a name that resolves to it, before connecting', async () => {
    const strict = new TargetPolicy({ allowPrivate: false, allowCidrs: [] });
    const before = receiver.received.length;
    expect(await post(receiver.url(), strict)).toMatchObject({
      ok: false,
      kind: 'refused',
      error: expect.stringMatching(/^127\.0\.0\.1: a loopback address/),
    });
    expect(await post(receiver.url('/hook', 'localhost'), strict)).toMatchObject({
      ok: false,
      kind: 'refused',
      error: expect.stringMatching(/^localhost resolves to/),
    });
    expect(receiver.received.length).toBe(before);
  });

  it('checks the address at send time (DNS rebinding) and connects to the address it checked', async () => {
    receiver.answer = () => ({ status: 200 });
    // A name that was public when the endpoint was made and is loopback now.
    let answer: ResolvedAddress = { address: '93.184.216.34', family: 4 };
    const rebinding = new TargetPolicy({ allowPrivate: false, allowCidrs: [] }, async () => [answer]);
    expect(await rebinding.resolve('hooks.example.test')).toMatchObject({ ok: true });
    answer = { address: '127.0.0.1', family: 4 };
    const port = new URL(receiver.url()).port;
    expect(await post(`http://hooks.example.test:${port}/hook`, rebinding)).toMatchObject({
      ok: false,
      kind: 'refused',
      error: expect.stringMatching(/^hooks\.example\.test resolves to 127\.0\.0\.1: a loopback address/),
    });
    // Allowed, the connection goes to the checked address, whatever the system resolver says of the name.
    const pinned = new TargetPolicy({ allowPrivate: true, allowCidrs: [] }, async () => [answer]);
    expect(await post(`http://hooks.example.test:${port}/pinned`, pinned)).toEqual({ ok: true, status: 200 });
    expect(receiver.received.at(-1)?.path).toBe('/pinned');
  });
});
