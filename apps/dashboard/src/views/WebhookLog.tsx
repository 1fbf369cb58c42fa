import type { WebhookDelivery } from '@camfleet/contracts';
import { ColumnHeads, ErrorNote, Scroll, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { useSession } from '../session.js';

/** Deliveries the log shows (the server keeps the newest 500 finished ones per endpoint). */
const LOG_LIMIT = 50;

/** What a delivery's state means in the log (the CLI's words). */
function stateText(d: WebhookDelivery): string {
  if (d.state === 'failed') return 'given up';
  if (d.state === 'pending' && d.nextAttemptAt === null) return 'parked';
  return d.state;
}

/** One endpoint's delivery log, newest first as the server answers it; test pings are not in it. */
export function DeliveryLog({ id, domId, tick }: { id: string; domId: string; tick: number }) {
  const { api } = useSession();
  const log = useQuery(() => api.webhooks.deliveries.query({ id, limit: LOG_LIMIT }), [api, id, tick]);
  const deliveries = log.data ?? [];
  return (
    <section id={domId} aria-labelledby={`${domId}-title`}>
      <h3 id={`${domId}-title`}>
        Delivery log of <code>{id}</code>
      </h3>
      <ErrorNote error={log.error} />
      <Scroll label="Webhook delivery log">
        <table data-testid="webhook-deliveries">
          <caption>
            The newest {LOG_LIMIT} deliveries, newest first (test pings are sent apart, not logged)
          </caption>
          <ColumnHeads
            names={['Queued', 'Event', 'State', 'Attempts', 'HTTP', 'Error', 'Next try', 'Finished']}
          />
          <tbody>
            {log.data && deliveries.length === 0 && (
              <tr>
                <td colSpan={8}>No deliveries yet.</td>
              </tr>
            )}
            {deliveries.map((d) => (
              <tr key={d.id} data-state={d.state}>
                <td>{formatTime(d.createdAt)}</td>
                <td>
                  <code>{showText(d.type)}</code>
                  <div className="muted small">{showText(d.eventId)}</div>
                </td>
                <td>
                  <span className={`wh-state wh-state-${d.state}`}>{stateText(d)}</span>
                </td>
                <td>{d.attempts}</td>
                <td>{d.lastStatus ?? '—'}</td>
                <td>{d.lastError !== null ? showText(d.lastError) : '—'}</td>
                <td>{d.state === 'pending' ? formatTime(d.nextAttemptAt) : '—'}</td>
                <td>{formatTime(d.deliveredAt ?? d.finishedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
    </section>
  );
}
