import type { WebhookEndpoint } from '@camfleet/contracts';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_WILDCARDS, webhookUrlProblem } from '@camfleet/contracts/forms';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { errorMessage } from '../api.js';
import { ColumnHeads, ErrorNote, Scroll, useQuery } from '../components.js';
import { formatTime, showText } from '../format.js';
import { useSession } from '../session.js';
import { DeliveryLog } from './WebhookLog.js';

type Note = { ok: boolean; text: string };
const WILDCARD_TEXT: Record<(typeof WEBHOOK_WILDCARDS)[number], string> = {
  '*': 'every event',
  'rollout.*': 'every rollout event',
  'delivery.*': 'every delivery change',
};
/** The patterns an endpoint may subscribe to, grouped as contracts define them. */
const PATTERN_GROUPS: ReadonlyArray<{ legend: string; patterns: readonly string[] }> = [
  { legend: 'Patterns', patterns: WEBHOOK_WILDCARDS },
  { legend: 'Rollout events', patterns: WEBHOOK_EVENT_TYPES.filter((type) => type.startsWith('rollout.')) },
  {
    legend: 'Delivery changes',
    patterns: WEBHOOK_EVENT_TYPES.filter((type) => type.startsWith('delivery.')),
  },
];

/** Why the form cannot be sent yet, per field; the server checks again (and where the host resolves). */
function problemsOf(url: string, events: readonly string[]): { url: string | null; events: string | null } {
  return {
    url: url.trim() === '' ? 'a URL is needed' : webhookUrlProblem(url.trim()),
    events: events.length === 0 ? 'choose at least one event type or pattern' : null,
  };
}

/** The endpoint's last outcome, from the list's counters. */
function lastOutcome(w: WebhookEndpoint): string {
  const failedLast = w.lastFailureAt !== null && (w.lastDeliveredAt ?? 0) < w.lastFailureAt;
  if (failedLast) return `failed ${formatTime(w.lastFailureAt)}${w.lastError ? `: ${w.lastError}` : ''}`;
  if (w.lastDeliveredAt !== null) return `delivered ${formatTime(w.lastDeliveredAt)}`;
  return 'nothing sent yet';
}

/** Admins only: webhook endpoints (as the CLI's `webhook` commands) and each one's delivery log. */
export function Webhooks() {
  const { api } = useSession();
  const [tick, setTick] = useState(0);
  const list = useQuery(() => api.webhooks.list.query(), [api, tick]);
  const [note, setNote] = useState<Note | null>(null);
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const [logOf, setLogOf] = useState<string | null>(null);
  const logId = useId();
  // Re-reads the list and the open log together: neither pushes changes to the page.
  const readAgain = () => setTick((t) => t + 1);

  /** One call on an endpoint: its outcome as the note, then everything read again. */
  const act = async (call: () => Promise<Note>, failed: string) => {
    setNote(null);
    try {
      setNote(await call());
    } catch (error) {
      setNote({ ok: false, text: `${failed}: ${errorMessage(error)}` });
    }
    readAgain();
  };

  const sendTest = (id: string) =>
    act(async () => {
      const r = await api.webhooks.test.mutate({ id });
      const answer = r.status === null ? 'no answer' : `HTTP ${r.status}`;
      return r.ok
        ? { ok: true, text: `Test ping to ${id}: ${answer} in ${r.durationMs} ms` }
        : { ok: false, text: `Test ping to ${id} failed: ${answer}${r.error ? `, ${r.error}` : ''}` };
    }, `Test ping to ${id} not sent`);
  const enable = (id: string) =>
    act(async () => {
      await api.webhooks.enable.mutate({ id });
      return { ok: true, text: `${id} enabled: its backlog is being sent` };
    }, `${id} not enabled`);
  const remove = (id: string) =>
    act(async () => {
      await api.webhooks.delete.mutate({ id });
      setLogOf((open) => (open === id ? null : open));
      return { ok: true, text: `${id} deleted` };
    }, `${id} not deleted`);

  const endpoints = list.data ?? [];
  return (
    <>
      <h2>Webhooks</h2>
      <p className="muted">
        The fleet's events, POSTed to these URLs and signed with each endpoint's secret. The pods disable an
        endpoint that keeps failing; enable it here once it answers again (a test ping shows whether it does).
      </p>
      <NewWebhook
        onCreated={(created) => {
          setNote(null);
          setSecret(created);
          readAgain();
        }}
        onStart={() => setSecret(null)}
      />
      {secret && (
        <p className="ok" role="status">
          Signing secret of <code>{secret.id}</code>:{' '}
          <code data-testid="new-webhook-secret">{secret.secret}</code> (shown once: copy it now)
        </p>
      )}
      <p role="status" className={note && !note.ok ? 'error' : 'ok'} data-testid="webhook-note">
        {note ? showText(note.text) : ''}
      </p>
      <button type="button" className="secondary" onClick={readAgain}>
        Read webhooks again
      </button>
      <ErrorNote error={list.error} />
      <Scroll label="Webhook endpoints">
        <table data-testid="webhooks">
          <caption>Webhook endpoints</caption>
          <ColumnHeads names={['Endpoint', 'Events', 'State', 'Created', 'Last delivery', 'Actions']} />
          <tbody>
            {list.data && endpoints.length === 0 && (
              <tr>
                <td colSpan={6}>No webhooks.</td>
              </tr>
            )}
            {endpoints.map((w) => (
              <WebhookRow
                key={w.id}
                endpoint={w}
                logShown={logOf === w.id}
                logId={logId}
                onToggleLog={() => setLogOf(logOf === w.id ? null : w.id)}
                onTest={() => sendTest(w.id)}
                onEnable={() => enable(w.id)}
                onDelete={() => remove(w.id)}
              />
            ))}
          </tbody>
        </table>
      </Scroll>
      {logOf !== null && <DeliveryLog id={logOf} domId={logId} tick={tick} />}
    </>
  );
}

function NewWebhook({
  onCreated,
  onStart,
}: {
  onCreated: (created: { id: string; secret: string }) => void;
  onStart: () => void;
}) {
  const { api } = useSession();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<readonly string[]>([]);
  // Problems show once a send was tried, then follow the edits.
  const [tried, setTried] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const ids = { url: useId(), description: useId(), urlError: useId(), eventsError: useId() };
  const problems = problemsOf(url, events);
  const shown = tried ? problems : { url: null, events: null };

  const toggle = (pattern: string, on: boolean) =>
    setEvents((now) => (on ? [...now, pattern] : now.filter((p) => p !== pattern)));

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    setFailure(null);
    if (problems.url !== null || problems.events !== null) return;
    onStart();
    try {
      const created = await api.webhooks.create.mutate({
        url: url.trim(),
        events: [...events],
        description: description.trim(),
      });
      onCreated({ id: created.id, secret: created.secret });
      setUrl('');
      setDescription('');
      setEvents([]);
      setTried(false);
    } catch (error) {
      setFailure(`not created: ${errorMessage(error)}`);
    }
  };

  return (
    <form className="actions" onSubmit={(event) => void create(event)} aria-label="New webhook" noValidate>
      <label htmlFor={ids.url}>URL</label>
      <input
        id={ids.url}
        type="url"
        value={url}
        maxLength={2048}
        required
        placeholder="https://example.com/camfleet"
        aria-invalid={shown.url !== null}
        aria-describedby={shown.url !== null ? ids.urlError : undefined}
        onChange={(e) => setUrl(e.target.value)}
      />
      {shown.url !== null && (
        <p id={ids.urlError} role="alert" className="error">
          URL: {shown.url}
        </p>
      )}
      <label htmlFor={ids.description}>Description (optional)</label>
      <input
        id={ids.description}
        value={description}
        maxLength={200}
        onChange={(e) => setDescription(e.target.value)}
      />
      <fieldset
        className="webhook-events"
        aria-describedby={shown.events !== null ? ids.eventsError : undefined}
      >
        <legend>Events to send</legend>
        {PATTERN_GROUPS.map((group) => (
          <fieldset key={group.legend}>
            <legend>{group.legend}</legend>
            {group.patterns.map((pattern) => (
              <label key={pattern}>
                <input
                  type="checkbox"
                  checked={events.includes(pattern)}
                  onChange={(e) => toggle(pattern, e.target.checked)}
                />{' '}
                <code>{pattern}</code>
                {pattern in WILDCARD_TEXT && ` (${WILDCARD_TEXT[pattern as keyof typeof WILDCARD_TEXT]})`}
              </label>
            ))}
          </fieldset>
        ))}
      </fieldset>
      {shown.events !== null && (
        <p id={ids.eventsError} role="alert" className="error">
          Events: {shown.events}
        </p>
      )}
      <div className="buttons">
        <button type="submit">Create webhook</button>
      </div>
      {failure && (
        <p role="alert" className="error">
          {showText(failure)}
        </p>
      )}
    </form>
  );
}

function WebhookRow({
  endpoint: w,
  logShown,
  logId,
  onToggleLog,
  onTest,
  onEnable,
  onDelete,
}: {
  endpoint: WebhookEndpoint;
  logShown: boolean;
  logId: string;
  onToggleLog: () => void;
  onTest: () => Promise<void>;
  onEnable: () => Promise<void>;
  onDelete: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  // The confirm buttons replace the delete button and back: keyboard focus follows.
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
    else if (asked.current) deleteRef.current?.focus();
    asked.current = confirming;
  }, [confirming]);
  const run = async (call: () => Promise<void>) => {
    setBusy(true);
    await call();
    setBusy(false);
    setConfirming(false);
  };

  return (
    <tr data-testid={`webhook-${w.id}`}>
      <td>
        <code>{w.id}</code>
        <br />
        <span className="webhook-url">{showText(w.url)}</span>
        {w.description && <div className="muted small">{showText(w.description)}</div>}
      </td>
      <td>
        {w.events.map((pattern) => (
          <code key={pattern} className="webhook-pattern">
            {showText(pattern)}
          </code>
        ))}
      </td>
      <td>
        <span
          className={`status ${w.enabled ? 'status-active' : 'status-paused'}`}
          data-testid="webhook-state"
        >
          {w.enabled ? 'enabled' : 'disabled'}
        </span>
        {!w.enabled && (
          <div className="small">
            since {formatTime(w.disabledAt)}
            {w.disabledReason && `: ${showText(w.disabledReason)}`}
          </div>
        )}
        {w.consecutiveFailures > 0 && <div className="small">{w.consecutiveFailures} failures in a row</div>}
      </td>
      <td>
        {formatTime(w.createdAt)} by {showText(w.createdBy)}
      </td>
      <td>
        <span data-testid="webhook-last">{showText(lastOutcome(w))}</span>
        <div className="muted small">
          {w.delivered} delivered, {w.givenUp} given up, {w.dropped} dropped, {w.backlog} waiting
        </div>
      </td>
      <td>
        <div className="buttons">
          <button type="button" className="secondary" disabled={busy} onClick={() => void run(onTest)}>
            Send test<span className="visually-hidden"> to {w.id}</span>
          </button>
          <button
            type="button"
            className="secondary"
            aria-expanded={logShown}
            aria-controls={logShown ? logId : undefined}
            onClick={onToggleLog}
          >
            Delivery log<span className="visually-hidden"> of {w.id}</span>
          </button>
          {!w.enabled && (
            <button type="button" disabled={busy} onClick={() => void run(onEnable)}>
              Enable<span className="visually-hidden"> {w.id}</span>
            </button>
          )}
          {!confirming ? (
            <button
              ref={deleteRef}
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => setConfirming(true)}
            >
              Delete…<span className="visually-hidden"> {w.id}</span>
            </button>
          ) : (
            <fieldset className="confirm">
              <legend className="visually-hidden">Confirm deleting {w.id}</legend>
              <button
                ref={confirmRef}
                type="button"
                className="danger"
                disabled={busy}
                onClick={() => void run(onDelete)}
              >
                Yes, delete<span className="visually-hidden"> {w.id}</span>
              </button>
              <button type="button" className="secondary" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </fieldset>
          )}
        </div>
      </td>
    </tr>
  );
}
