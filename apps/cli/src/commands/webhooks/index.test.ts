import type {
  CreatedWebhook,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookTestResult,
} from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { type Handler, NOW, networkError, run, serverError } from '../../test-helpers.js';

const ID = 'wh_0123456789abcdef';
const SECRET = `whsec_${'A'.repeat(43)}`;

function endpoint(overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: ID,
    url: 'https://hooks.example.com/camfleet',
    events: ['rollout.*', 'delivery.failed'],
    description: 'chat',
    createdAt: NOW - 3_600_000,
    createdBy: 'admin',
    enabled: true,
    disabledAt: null,
    disabledReason: null,
    consecutiveFailures: 0,
    backlog: 2,
    backlogLimit: 1000,
    dropped: 0,
    droppedAt: null,
    delivered: 41,
    givenUp: 0,
    lastDeliveredAt: NOW - 60_000,
    lastFailureAt: null,
    lastError: null,
    ...overrides,
  };
}

const DISABLED = endpoint({
  id: 'wh_fedcba9876543210',
  url: 'http://203.0.113.7/hook',
  enabled: false,
  disabledAt: NOW - 120_000,
  disabledReason: '50 consecutive failed attempts; the last: HTTP 503',
  consecutiveFailures: 50,
  backlog: 1000,
  dropped: 17,
  droppedAt: NOW - 5_000,
  lastFailureAt: NOW - 120_000,
  lastError: 'HTTP 503',
});

function delivery(overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return {
    id: `${ID}/1740830000000-0/g`,
    eventId: '1740830000000-0/g',
    type: 'rollout.paused',
    state: 'delivered',
    attempts: 1,
    lastStatus: 200,
    lastError: null,
    nextAttemptAt: null,
    deliveredAt: NOW - 30_000,
    createdAt: NOW - 31_000,
    finishedAt: NOW - 30_000,
    ...overrides,
  };
}

const DELIVERIES = [
  delivery({
    eventId: '1740830001000-0/b7',
    type: 'delivery.failed',
    state: 'pending',
    attempts: 3,
    lastStatus: 500,
    lastError: 'HTTP 500: oops',
    nextAttemptAt: NOW + 8_000,
    deliveredAt: null,
    finishedAt: null,
  }),
  delivery(),
  delivery({
    eventId: '1740829990000-0/g',
    state: 'failed',
    attempts: 12,
    lastStatus: null,
    lastError: 'ECONNREFUSED',
    deliveredAt: null,
  }),
];

const PING: WebhookTestResult = { eventId: 'ping_00aa', ok: true, status: 200, error: null, durationMs: 12 };

const routes: Record<string, Handler> = {
  'webhooks.create': (input) => {
    const { url, events, description } = input as { url: string; events: string[]; description: string };
    const created: CreatedWebhook = {
      ...endpoint({
        url,
        events,
        description,
        createdAt: NOW,
        backlog: 0,
        delivered: 0,
        lastDeliveredAt: null,
      }),
      secret: SECRET,
    };
    return created;
  },
  'webhooks.list': () => [endpoint(), DISABLED],
  'webhooks.get': (input) => ((input as { id: string }).id === ID ? endpoint() : DISABLED),
  'webhooks.deliveries': () => DELIVERIES,
  'webhooks.test': () => PING,
  'webhooks.delete': () => endpoint(),
  'webhooks.enable': () => endpoint({ backlog: 1000 }),
};

describe('webhook create', () => {
  it('sends the URL, the event patterns and the description; prints the secret once', async () => {
    const result = await run(
      [
        'webhook',
        'create',
        '--url',
        'https://hooks.example.com/camfleet',
        '--events',
        'rollout.*, delivery.failed',
      ],
      { routes },
    );
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      {
        path: 'webhooks.create',
        input: {
          url: 'https://hooks.example.com/camfleet',
          events: ['rollout.*', 'delivery.failed'],
          description: '',
        },
      },
    ]);
    expect(result.stdout).toBe(`secret for webhook ${ID}: ${SECRET}\n`);
    expect(result.stderr).toMatch(
      /POST https:\/\/hooks\.example\.com\/camfleet for rollout\.\*, delivery\.failed/,
    );
    expect(result.stderr).toMatch(/shown only once/);
    expect(result.stderr).not.toContain(SECRET);
  });

  it('--json prints the created endpoint, secret included', async () => {
    const result = await run(
      ['webhook', 'create', '--url', 'https://x.example/h', '--events', '*', '--description', 'ci', '--json'],
      { routes },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      id: ID,
      events: ['*'],
      description: 'ci',
      secret: SECRET,
    });
    expect(result.stderr).toBe('');
  });

  it.each([
    [['webhook', 'create', '--events', '*'], /required option '--url <url>' not specified/],
    [
      ['webhook', 'create', '--url', 'https://x.example/h'],
      /required option '--events <list>' not specified/,
    ],
    [
      ['webhook', 'create', '--url', 'ftp://x.example/h', '--events', '*'],
      /invalid webhook: --url: only http and https URLs/,
    ],
    [
      ['webhook', 'create', '--url', 'https://x.example/h', '--events', 'rollout.nope'],
      /invalid webhook: --events: an event type \(rollout\.created/,
    ],
    [
      ['webhook', 'create', '--url', 'https://x.example/h', '--events', 'rollout.*,,'],
      /invalid value for --events/,
    ],
    [['webhook', 'show', 'wh_nope'], /invalid webhook id 'wh_nope': a webhook id looks like/],
    [['webhook', 'deliveries', ID, '--limit', '0'], /invalid value for --limit: '0'/],
  ])('%j: exit 2, nothing sent', async (argv, message) => {
    const result = await run(argv, { routes });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.connects).toEqual([]);
  });

  it('talks to the pod of FLEET_URL: --url is the webhook, also in errors', async () => {
    const result = await run(['webhook', 'create', '--url', 'https://hooks.example.com/h', '--events', '*'], {
      routes: {
        'webhooks.create': () => {
          throw networkError();
        },
      },
    });
    expect(result.code).toBe(7);
    expect(result.connects).toEqual([{ url: 'http://fleet.test:8080', token: 'secret' }]);
    expect(result.stderr).toMatch(
      /cannot reach the fleet server at http:\/\/fleet\.test:8080 \(ECONNREFUSED\).*FLEET_URL/,
    );
    expect(result.stderr).not.toContain('hooks.example.com');
  });

  it('says why the server refused a URL (SSRF), exit 2', async () => {
    const refused = serverError(
      'BAD_REQUEST',
      'INVALID_INPUT',
      'webhook URL refused: localhost resolves to 127.0.0.1: a loopback address (allowed only with FLEET_WEBHOOK_ALLOW_PRIVATE=1 or FLEET_WEBHOOK_ALLOW_CIDRS on the pods)',
      400,
    );
    const result = await run(['webhook', 'create', '--url', 'http://localhost/h', '--events', '*'], {
      routes: {
        'webhooks.create': () => {
          throw refused;
        },
      },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/localhost resolves to 127\.0\.0\.1: a loopback address/);
  });
});

describe('webhook list and show', () => {
  it('lists endpoints with status, backlog, drops and the last error; notes the disabled ones', async () => {
    const result = await run(['webhook', 'list'], { routes });
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+URL\s+EVENTS\s+STATUS\s+BACKLOG\s+DROPPED\s+DELIVERED\s+LAST ERROR$/);
    expect(lines[1]).toMatch(
      /^wh_0123456789abcdef\s+https:\/\/hooks\.example\.com\/camfleet\s+rollout\.\*,delivery\.failed\s+enabled\s+2\s+0\s+41$/,
    );
    expect(lines[2]).toMatch(
      /^wh_fedcba9876543210\s+http:\/\/203\.0\.113\.7\/hook\s+.*disabled\s+1000\s+17\s+41\s+HTTP 503$/,
    );
    expect(result.stderr).toMatch(/1 disabled after failing again and again: fleet webhook show ID says why/);
  });

  it('--json prints the endpoints; an empty list says how to add one', async () => {
    expect(JSON.parse((await run(['webhooks', 'ls', '--json'], { routes })).stdout)).toEqual([
      endpoint(),
      DISABLED,
    ]);
    const empty = await run(['webhook', 'list'], { routes: { 'webhooks.list': () => [] } });
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toMatch(/no webhooks yet: fleet webhook create --url URL --events LIST/);
  });

  it('shows a disabled endpoint: since when, why, how to enable it, and what its full backlog dropped', async () => {
    const result = await run(['webhook', 'show', DISABLED.id], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'webhooks.get', input: { id: DISABLED.id } }]);
    expect(result.stdout).toMatch(
      /Status\s+disabled since 2025-03-01 11:58:00Z \(2m ago\): 50 consecutive failed attempts; the last: HTTP 503/,
    );
    expect(result.stdout).toMatch(/nothing is sent until fleet webhook enable wh_fedcba9876543210/);
    expect(result.stdout).toMatch(/Backlog\s+1000 waiting \(at most 1000\)/);
    expect(result.stdout).toMatch(
      /Dropped\s+17 \(the backlog was full; the oldest were dropped, the last at 2025-03-01 11:59:55Z\)/,
    );
    expect(result.stdout).toMatch(/Failures\s+50 in a row/);
    expect(result.stdout).toMatch(/Last error\s+HTTP 503/);
  });

  it('shows an enabled endpoint; --json is the endpoint; an unknown id exits 4 and points at the list', async () => {
    const shown = await run(['webhook', 'get', ID], { routes });
    expect(shown.stdout).toMatch(/Status\s+enabled/);
    expect(shown.stdout).toMatch(/Dropped\s+none/);
    expect(shown.stdout).toMatch(/Delivered\s+41, the last 2025-03-01 11:59:00Z \(1m ago\)/);
    expect(JSON.parse((await run(['webhook', 'show', ID, '--json'], { routes })).stdout)).toEqual(endpoint());
    const missing = await run(['webhook', 'show', ID], {
      routes: {
        'webhooks.get': () => {
          throw serverError('NOT_FOUND', 'NOT_FOUND', `no webhook ${ID}: fleet webhook list shows them`, 404);
        },
      },
    });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/no webhook wh_0123456789abcdef/);
  });
});

describe('webhook deliveries', () => {
  it('shows the log newest first: event, type, state, attempts, the last answer, the next try', async () => {
    const result = await run(['webhook', 'deliveries', ID, '--limit', '3'], { routes });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ path: 'webhooks.deliveries', input: { id: ID, limit: 3 } }]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EVENT\s+TYPE\s+STATE\s+ATTEMPTS\s+LAST\s+NEXT TRY\s+DELIVERED$/);
    expect(lines[1]).toMatch(
      /^1740830001000-0\/b7\s+delivery\.failed\s+pending\s+3\s+HTTP 500: oops\s+in 8s$/,
    );
    expect(lines[2]).toMatch(
      /^1740830000000-0\/g\s+rollout\.paused\s+delivered\s+1\s+HTTP 200\s+2025-03-01 11:59:30Z$/,
    );
    expect(lines[3]).toMatch(/^1740829990000-0\/g\s+rollout\.paused\s+given up\s+12\s+ECONNREFUSED$/);
  });

  it('--json prints the deliveries; an empty log says so', async () => {
    expect(JSON.parse((await run(['webhook', 'deliveries', ID, '--json'], { routes })).stdout)).toEqual(
      DELIVERIES,
    );
    const empty = await run(['webhook', 'deliveries', ID], { routes: { 'webhooks.deliveries': () => [] } });
    expect(empty.stderr).toMatch(/nothing delivered to wh_0123456789abcdef yet/);
  });
});

describe('webhook test, delete and enable', () => {
  it('test reports the answer; exit 1 when the endpoint did not answer 2xx', async () => {
    const ok = await run(['webhook', 'test', ID], { routes });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`ping ping_00aa to webhook ${ID}: HTTP 200 (12 ms)\n`);
    const failing = { ...PING, ok: false, status: 503, error: 'HTTP 503: busy' };
    const bad = await run(['webhook', 'test', ID], { routes: { 'webhooks.test': () => failing } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe(`ping ping_00aa to webhook ${ID}: failed: HTTP 503: busy (12 ms)\n`);
    const json = await run(['webhook', 'test', ID, '--json'], { routes: { 'webhooks.test': () => failing } });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(failing);
  });

  it('delete and enable say what they did; --json prints the endpoint', async () => {
    const deleted = await run(['webhook', 'delete', ID], { routes });
    expect(deleted.calls).toEqual([{ path: 'webhooks.delete', input: { id: ID } }]);
    expect(deleted.stdout).toBe(`deleted webhook ${ID} (https://hooks.example.com/camfleet)\n`);
    expect(deleted.stderr).toMatch(/2 deliveries waiting were dropped with it/);
    const enabled = await run(['webhook', 'enable', ID], { routes });
    expect(enabled.calls).toEqual([{ path: 'webhooks.enable', input: { id: ID } }]);
    expect(enabled.stdout).toBe(`enabled webhook ${ID}; 1000 deliveries waiting are sent now\n`);
    expect(JSON.parse((await run(['webhook', 'rm', ID, '--json'], { routes })).stdout)).toEqual(endpoint());
    expect(JSON.parse((await run(['webhook', 'enable', ID, '--json'], { routes })).stdout)).toEqual(
      endpoint({ backlog: 1000 }),
    );
  });

  it('a viewer token is told the admin role is needed (exit 5)', async () => {
    const forbidden = serverError('FORBIDDEN', null, 'role admin required, token has viewer', 403);
    const result = await run(['webhook', 'list'], {
      routes: {
        'webhooks.list': () => {
          throw forbidden;
        },
      },
    });
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/role admin required/);
  });
});
