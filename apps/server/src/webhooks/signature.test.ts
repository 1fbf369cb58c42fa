import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signatureOf, verifyWebhook, webhookHeaders } from './signature.js';

const SECRET = 'whsec_test-secret';
const BODY = '{"id":"1733450000000-0/g","type":"rollout.paused","time":"2024-12-06T01:53:20.000Z","data":{}}';

describe('webhook signatures', () => {
  it('is v1= and the hex HMAC-SHA256 of "<timestamp>.<body>" with the secret as its key', () => {
    // Computed apart: printf '%s.%s' 1733450000 "$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    expect(signatureOf(SECRET, 1733450000, BODY)).toBe(
      'v1=c5f4892ea8153a41d89f9d47d9625296091fcc2318d3246ce3a879620641ba7b',
    );
    expect(signatureOf(SECRET, 1733450001, BODY)).not.toBe(signatureOf(SECRET, 1733450000, BODY));
  });

  it.skipIf(spawnSync('openssl', ['version']).error !== undefined)(
    'accepts and refuses as the shell recipe of docs/webhooks.md does (openssl, run as it stands there)',
    () => {
      const docs = readFileSync(join(import.meta.dirname, '../../../../docs/webhooks.md'), 'utf8');
      const recipe = /Shell \(`openssl`\)[\s\S]*?```sh\n([\s\S]*?)```/.exec(docs)?.[1];
      if (!recipe) throw new Error('no shell recipe in docs/webhooks.md');
      const dir = mkdtempSync(join(tmpdir(), 'camfleet-sig-'));
      writeFileSync(join(dir, 'body.json'), BODY);
      const check = (ts: number, sig: string) =>
        spawnSync('sh', ['-c', recipe], {
          cwd: dir,
          env: { ...process.env, TS: String(ts), SIG: sig, SECRET },
          encoding: 'utf8',
        });
      const now = Math.floor(Date.now() / 1000);
      expect(check(now, signatureOf(SECRET, now, BODY)).status).toBe(0);
      const forged = check(now, signatureOf('whsec_other', now, BODY));
      expect([forged.status, forged.stderr.trim()]).toEqual([1, 'bad signature']);
      const old = check(now - 600, signatureOf(SECRET, now - 600, BODY));
      expect([old.status, old.stderr.trim()]).toEqual([1, 'stale timestamp']);
      rmSync(dir, { recursive: true, force: true });
    },
  );

  it('carries the event, the delivery, the attempt, the timestamp and the signature', () => {
    expect(
      webhookHeaders({
        secret: SECRET,
        type: 'rollout.paused',
        deliveryId: 'wh_0123456789abcdef/1733450000000-0/g',
        attempt: 2,
        timestampSeconds: 1733450000,
        body: BODY,
      }),
    ).toEqual({
      'content-type': 'application/json',
      'user-agent': 'camfleet-webhooks/1',
      'x-camfleet-event': 'rollout.paused',
      'x-camfleet-delivery': 'wh_0123456789abcdef/1733450000000-0/g',
      'x-camfleet-attempt': '2',
      'x-camfleet-timestamp': '1733450000',
      'x-camfleet-signature': signatureOf(SECRET, 1733450000, BODY),
    });
  });

  it('verifies as a receiver should: the right secret and body, and a recent timestamp', () => {
    const signature = signatureOf(SECRET, 1733450000, BODY);
    const at = { nowSeconds: 1733450100, toleranceSeconds: 300 };
    expect(verifyWebhook(SECRET, { signature, timestamp: '1733450000' }, BODY, at)).toBe(true);
    expect(verifyWebhook('whsec_other', { signature, timestamp: '1733450000' }, BODY, at)).toBe(false);
    expect(verifyWebhook(SECRET, { signature, timestamp: '1733450000' }, `${BODY} `, at)).toBe(false);
    expect(verifyWebhook(SECRET, { signature, timestamp: '1733450001' }, BODY, at)).toBe(false);
    expect(verifyWebhook(SECRET, { signature: 'v1=00', timestamp: '1733450000' }, BODY, at)).toBe(false);
    expect(verifyWebhook(SECRET, { signature: undefined, timestamp: '1733450000' }, BODY, at)).toBe(false);
    // A replay ten minutes later is refused however good its signature.
    expect(
      verifyWebhook(SECRET, { signature, timestamp: '1733450000' }, BODY, { ...at, nowSeconds: 1733450600 }),
    ).toBe(false);
  });
});
