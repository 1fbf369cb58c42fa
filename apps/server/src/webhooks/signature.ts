import { createHmac, timingSafeEqual } from 'node:crypto';

/** The signature scheme's version, the prefix of X-Camfleet-Signature's value. */
const SCHEME = 'v1';

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with the endpoint's secret as it was shown. */
export function signatureOf(secret: string, timestampSeconds: number, body: string): string {
  return `${SCHEME}=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`;
}

/** What every webhook request carries besides its body. */
export function webhookHeaders(request: {
  secret: string;
  type: string;
  deliveryId: string;
  attempt: number;
  timestampSeconds: number;
  body: string;
}): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'camfleet-webhooks/1',
    'x-camfleet-event': request.type,
    'x-camfleet-delivery': request.deliveryId,
    'x-camfleet-attempt': String(request.attempt),
    'x-camfleet-timestamp': String(request.timestampSeconds),
    'x-camfleet-signature': signatureOf(request.secret, request.timestampSeconds, request.body),
  };
}

/**
 * What a receiver does (docs/webhooks.md): recompute the signature over the raw body, compare in
 * constant time, and refuse a timestamp too far from now (a replayed request). True when it verifies.
 */
export function verifyWebhook(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: string,
  options: { nowSeconds: number; toleranceSeconds: number },
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(options.nowSeconds - timestamp) > options.toleranceSeconds)
    return false;
  const expected = Buffer.from(signatureOf(secret, timestamp, rawBody));
  const given = Buffer.from(headers.signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
