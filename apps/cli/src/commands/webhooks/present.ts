import type {
  CreatedWebhook,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookTestResult,
} from '@camfleet/contracts';
import type { Session } from '../../session.js';
import { keyValues } from '../../table.js';
import { formatIn, formatTimestamp, formatWhen } from '../../time.js';

/** `enabled` in green, `disabled` in red. */
function statusText(endpoint: WebhookEndpoint, s: Session): string {
  return endpoint.enabled ? s.c.green('enabled') : s.c.red('disabled');
}

const never = (s: Session) => s.c.dim('never');

/** The endpoints as `webhook list` shows them. */
export function webhooksTable(endpoints: readonly WebhookEndpoint[], s: Session): string {
  return s.table(
    ['ID', 'URL', 'EVENTS', 'STATUS', 'BACKLOG', 'DROPPED', 'DELIVERED', 'LAST ERROR'],
    endpoints.map((e) => [
      e.id,
      s.cell(e.url, 50),
      s.cell(e.events.join(','), 30),
      statusText(e, s),
      e.backlog,
      e.dropped,
      e.delivered,
      e.lastError === null ? '' : s.cell(e.lastError, 40),
    ]),
    ['left', 'left', 'left', 'left', 'right', 'right', 'right'],
  );
}

/** One endpoint, as `webhook show` shows it. */
export function webhookDetail(e: WebhookEndpoint, s: Session): string {
  const now = s.now();
  const pairs: Array<readonly [string, string]> = [
    ['Webhook', s.c.bold(e.id)],
    ['URL', e.url],
    ['Events', e.events.join(', ')],
    ['Description', e.description === '' ? s.c.dim('none') : e.description],
    ['Created', `${formatWhen(e.createdAt, now)} by ${e.createdBy}`],
    [
      'Status',
      e.enabled
        ? statusText(e, s)
        : `${statusText(e, s)} since ${formatWhen(e.disabledAt ?? 0, now)}: ${e.disabledReason ?? ''}\n` +
          `nothing is sent until fleet webhook enable ${e.id}`,
    ],
    ['Backlog', `${e.backlog} waiting (at most ${e.backlogLimit})`],
    [
      'Dropped',
      e.dropped === 0
        ? s.c.dim('none')
        : s.c.yellow(
            `${e.dropped} (the backlog was full; the oldest were dropped, the last at ${formatTimestamp(e.droppedAt ?? 0)})`,
          ),
    ],
    [
      'Delivered',
      `${e.delivered}, the last ${e.lastDeliveredAt === null ? never(s) : formatWhen(e.lastDeliveredAt, now)}`,
    ],
    ['Given up', String(e.givenUp)],
    ['Failures', `${e.consecutiveFailures} in a row`],
  ];
  if (e.lastError !== null)
    pairs.push(['Last error', `${e.lastError} (${formatWhen(e.lastFailureAt ?? 0, now)})`]);
  return keyValues(pairs, s.c);
}

/** What `webhook create` prints on stdout: the secret, shown once. */
export function createdText(created: CreatedWebhook): string {
  return `secret for webhook ${created.id}: ${created.secret}`;
}

function stateText(d: WebhookDelivery, s: Session): string {
  switch (d.state) {
    case 'delivered':
      return s.c.green(d.state);
    case 'failed':
      return s.c.red('given up');
    case 'dropped':
      return s.c.yellow(d.state);
    default:
      return d.state;
  }
}

/** The last attempt: its status and error. */
function lastText(d: WebhookDelivery): string {
  if (d.attempts === 0) return '';
  if (d.lastError !== null) return d.lastError;
  return d.lastStatus === null ? '' : `HTTP ${d.lastStatus}`;
}

/** When a pending delivery is tried next: a time, or `parked` while its endpoint is disabled. */
function nextText(d: WebhookDelivery, s: Session): string {
  if (d.state !== 'pending') return '';
  return d.nextAttemptAt === null ? s.c.dim('parked') : formatIn(d.nextAttemptAt, s.now());
}

/** An endpoint's delivery log, as `webhook deliveries` shows it. */
export function deliveriesTable(deliveries: readonly WebhookDelivery[], s: Session): string {
  return s.table(
    ['EVENT', 'TYPE', 'STATE', 'ATTEMPTS', 'LAST', 'NEXT TRY', 'DELIVERED'],
    deliveries.map((d) => [
      d.eventId,
      d.type,
      stateText(d, s),
      d.attempts,
      s.cell(lastText(d), 40),
      nextText(d, s),
      d.deliveredAt === null ? '' : formatTimestamp(d.deliveredAt),
    ]),
    ['left', 'left', 'left', 'right'],
  );
}

/** What one ping came to. */
export function testText(id: string, result: WebhookTestResult): string {
  const answer = result.ok ? `HTTP ${result.status}` : `failed: ${result.error ?? 'no answer'}`;
  return `ping ${result.eventId} to webhook ${id}: ${answer} (${result.durationMs} ms)`;
}
