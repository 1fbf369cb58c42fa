import type { FleetEvent } from '@camfleet/contracts';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { ErrorNote } from '../components.js';
import { formatClock, showText } from '../format.js';
import { LiveBadge, useLive } from '../live.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';

function describe(event: FleetEvent): string {
  if (event.kind === 'rollout') {
    const wave = event.wave === null ? '' : ` wave ${event.wave + 1}`;
    return showText(
      `rollout ${event.type.replace('_', ' ')}${wave} by ${event.actor}${event.reason ? `: ${event.reason}` : ''}`,
    );
  }
  return showText(
    `${event.from ?? 'new'} → ${event.to} (attempt ${event.attempt})${event.error ? `: ${event.error}` : ''}`,
  );
}

/**
 * The event stream, newest first: the latest `limit` events (events.list), then live ones
 * (events.follow from the last id listed). The subscription resumes from its last event id after
 * a reconnect, so nothing is missed or shown twice.
 */
export function EventFeed({ rolloutId, limit = 200 }: { rolloutId?: string; limit?: number }) {
  const { api } = useSession();
  const [backlog, setBacklog] = useState<FleetEvent[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stopped = false;
    setBacklog(null);
    api.events.list
      .query({ limit, ...(rolloutId ? { rolloutId } : {}) })
      .then((events) => !stopped && setBacklog(events.slice().reverse()))
      .catch((err: unknown) => !stopped && setError(err));
    return () => {
      stopped = true;
    };
  }, [api, rolloutId, limit]);
  if (error) return <ErrorNote error={error} />;
  if (!backlog) return <p className="muted">Loading events…</p>;
  return <FollowFeed backlog={backlog} limit={limit} {...(rolloutId ? { rolloutId } : {})} />;
}

function FollowFeed({
  backlog,
  rolloutId,
  limit,
}: {
  backlog: FleetEvent[];
  rolloutId?: string;
  limit: number;
}) {
  const { api } = useSession();
  const [events, setEvents] = useState<FleetEvent[]>(backlog);
  const after = backlog[0]?.id ?? null;
  const live = useLive<{ id: string; data: FleetEvent }>(
    (handlers) =>
      api.events.follow.subscribe({ lastEventId: after, ...(rolloutId ? { rolloutId } : {}) }, handlers),
    (tracked) =>
      setEvents((all) => [tracked.data, ...all.filter((e) => e.id !== tracked.id)].slice(0, limit)),
    [api, rolloutId, limit, after],
  );
  return (
    <div className="feed">
      <p>
        <LiveBadge state={live.state} /> <span className="muted small">newest first, last {limit} kept</span>
      </p>
      {live.error && (
        <p role="alert" className="error">
          {showText(live.error)}
        </p>
      )}
      {events.length === 0 && <p className="muted">No events yet.</p>}
      <ol className="events" aria-label={rolloutId ? `Events of ${rolloutId}` : 'Fleet events'}>
        {events.map((event) => (
          <li key={event.id} className={`event event-${event.kind === 'rollout' ? 'rollout' : event.to}`}>
            <time dateTime={new Date(event.at).toISOString()}>{formatClock(event.at)}</time>{' '}
            {!rolloutId && (
              <Link to={`/rollouts/${encodeURIComponent(event.rolloutId)}`} className="mono">
                {event.rolloutId}
              </Link>
            )}{' '}
            {event.kind === 'delivery' && (
              <Link to={`/devices/${encodeURIComponent(event.deviceId)}`} className="mono">
                {event.deviceId}
              </Link>
            )}{' '}
            <span>{describe(event)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function EventsPage() {
  const [draft, setDraft] = useState('');
  const [rolloutId, setRolloutId] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);
  const inputId = useId();
  const apply = (event: FormEvent) => {
    event.preventDefault();
    const value = draft.trim();
    if (value && !/^ro_[a-z0-9]{1,40}$/.test(value)) {
      setProblem('A rollout id looks like ro_…');
      return;
    }
    setProblem(null);
    setRolloutId(value || undefined);
  };
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events</h1>
      <search>
        <form className="inline" onSubmit={apply}>
          <label htmlFor={inputId}>Only rollout</label>
          <input
            id={inputId}
            value={draft}
            placeholder="ro_…"
            onChange={(e) => setDraft(e.target.value)}
            aria-invalid={problem ? true : undefined}
          />
          <button type="submit">Apply</button>
          {problem && (
            <span role="alert" className="error">
              {problem}
            </span>
          )}
        </form>
      </search>
      <EventFeed key={rolloutId ?? 'all'} {...(rolloutId ? { rolloutId } : {})} />
    </section>
  );
}
