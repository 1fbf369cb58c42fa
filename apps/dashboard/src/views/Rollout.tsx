import type { RolloutStatus } from '@camfleet/contracts';
import { formatPercent, percentOf } from '@camfleet/present';
import { useEffect, useId, useRef, useState } from 'react';
import { errorMessage } from '../api.js';
import { CountsTable, Legend, ProgressBar, type Sample, TimeChart } from '../components.js';
import { activeCount, describeGate, formatMs, formatTime, showText } from '../format.js';
import { LiveBadge, useLive } from '../live.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { EventFeed } from './Events.js';

/** Samples kept for the chart: at one snapshot per change (at most 2 a second), minutes of history. */
const MAX_SAMPLES = 600;
const LIVE = new Set(['active', 'paused']);

export function RolloutPage({ rolloutId }: { rolloutId: string }) {
  const { api, canOperate } = useSession();
  const [status, setStatus] = useState<RolloutStatus | null>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const live = useLive<RolloutStatus>(
    (handlers) => api.rollout.watch.subscribe({ rolloutId, intervalMs: 500 }, handlers),
    (next) => {
      setStatus(next);
      setSamples((all) =>
        [
          ...all,
          {
            at: Date.now(),
            succeeded: next.counts.succeeded,
            failed: next.counts.failed,
            active: activeCount(next.counts),
          },
        ].slice(-MAX_SAMPLES),
      );
    },
    [api, rolloutId],
  );

  // The chart starts from what the server recorded: the same whether this page was open or not.
  useEffect(() => {
    let left = false;
    api.rollout.history.query({ rolloutId }).then(
      (history) => {
        if (left) return;
        const stored = history.points;
        const storedUntil = stored[stored.length - 1]?.at ?? 0;
        setSamples((seen) => [...stored, ...seen.filter((s) => s.at > storedUntil)].slice(-MAX_SAMPLES));
      },
      () => undefined,
    );
    return () => {
      left = true;
    };
  }, [api, rolloutId]);

  return (
    <section aria-labelledby="rollout-title">
      <p className="crumbs">
        <Link to="/rollouts">Rollouts</Link> /
      </p>
      <h1 id="rollout-title">
        Rollout <code>{rolloutId}</code> <LiveBadge state={live.state} />
      </h1>
      {live.error && (
        <p role="alert" className="error">
          {showText(live.error)}
        </p>
      )}
      {!status && !live.error && <p className="muted">Waiting for the first snapshot…</p>}
      {status && (
        <>
          <div className="summary">
            <p>
              <span className={`status status-${status.status}`} data-testid="rollout-status">
                {status.status}
              </span>{' '}
              {status.reason && (
                <span className="muted">
                  {showText(status.reason)}
                  {status.statusBy && ` (by ${showText(status.statusBy)})`}
                </span>
              )}
            </p>
            <p>
              Patch <strong>{showText(status.patch.name)}</strong> {showText(status.patch.version)} · created
              by {showText(status.createdBy)} {formatTime(status.createdAt)}
            </p>
            <p aria-live="polite" data-testid="succeeded-count">
              {status.counts.succeeded} of {status.targeted} succeeded (
              {percentOf(status.counts.succeeded, status.targeted)})
              {status.counts.failed > 0 && `, ${status.counts.failed} failed`}
            </p>
            {status.attach && (
              <p aria-live="polite" data-testid="attach-progress">
                Attaching: in {status.attach.buckets} of {status.attach.of} buckets so far (the pods add the
                rest in the background)
              </p>
            )}
            <ProgressBar counts={status.counts} targeted={status.targeted} label="Rollout progress" />
            <Legend />
          </div>
          {canOperate && LIVE.has(status.status) && <Actions status={status} />}
          <div className="split">
            <CountsTable counts={status.counts} caption="Deliveries by state" />
            <div>
              <h2>Gate</h2>
              <p data-testid="gate">{describeGate(status.gate)}</p>
              <h2>Waves</h2>
              <Waves status={status} />
            </div>
          </div>
          <h2>Over time</h2>
          <TimeChart
            samples={samples}
            running={LIVE.has(status.status)}
            title="Succeeded, failed and in-progress deliveries over time"
          />
          <details>
            <summary>Settings</summary>
            <dl className="settings">
              <dt>Target</dt>
              <dd>
                {status.target.kind === 'all'
                  ? 'all devices'
                  : status.target.kind === 'devices'
                    ? `${status.target.deviceIds.length} named devices`
                    : showText(status.target.selector)}
              </dd>
              <dt>Advance</dt>
              <dd>
                {status.advance}, success threshold {formatPercent(status.successThreshold, 0)}, soak{' '}
                {formatMs(status.soakMs)}
              </dd>
              <dt>Limits</dt>
              <dd>
                in flight {status.maxInFlight ?? 'unlimited'}, per minute {status.maxPerMinute ?? 'unlimited'}
              </dd>
              <dt>Failure threshold</dt>
              <dd>
                {status.failureThreshold === null
                  ? 'none'
                  : `${formatPercent(status.failureThreshold, 0)} after ${status.minSample}, then ${status.onFailure}`}
              </dd>
              <dt>Attempts</dt>
              <dd>
                up to {status.maxAttempts}, ack timeout {formatMs(status.ackTimeoutMs)}
              </dd>
              <dt>Maintenance windows</dt>
              <dd>
                {status.windows.length === 0
                  ? 'any time'
                  : `${status.windows.map((w) => `${w.days.join(',')} ${w.start}-${w.end}`).join('; ')} device-local (tz label, else ${status.windowZone}); ${status.windowWaiting} waiting`}
              </dd>
              <dt>Schedule</dt>
              <dd>
                {status.startAt === null && status.endBy === null
                  ? 'none'
                  : [
                      status.startAt !== null ? `starts ${formatTime(status.startAt)}` : null,
                      status.endBy !== null
                        ? `ends ${formatTime(status.endBy)} (${status.atEnd === 'finish' ? 'in-flight finishes' : 'open work canceled'})`
                        : null,
                    ]
                      .filter((part) => part !== null)
                      .join(', ')}
              </dd>
            </dl>
          </details>
        </>
      )}
      <h2>Events</h2>
      <EventFeed rolloutId={rolloutId} limit={50} />
    </section>
  );
}

function Waves({ status }: { status: RolloutStatus }) {
  return (
    <ol className="waves">
      {status.waves.map((pct, i) => {
        const counts = status.waveCounts[i];
        const state = i < status.wave ? 'done' : i === status.wave ? 'open' : 'waiting';
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: waves are positional
          <li key={i} className={`wave wave-${state}`}>
            <span>
              Wave {i + 1}: up to {pct}% ({i <= status.wave ? 'open' : 'not open yet'})
            </span>
            {counts && <ProgressBar counts={counts} targeted={0} label={`Wave ${i + 1} progress`} />}
          </li>
        );
      })}
    </ol>
  );
}

type Action = 'pause' | 'resume' | 'advance' | 'cancel';

/** Operator controls; the server checks the role again (a viewer's call would be FORBIDDEN). */
function Actions({ status }: { status: RolloutStatus }) {
  const { api } = useSession();
  const [busy, setBusy] = useState<Action | null>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [reason, setReason] = useState('');
  const reasonId = useId();
  const cancelRef = useRef<HTMLButtonElement>(null);
  const rolloutId = status.id;
  const withReason = reason.trim() ? { reason: reason.trim() } : {};

  const run = async (action: Action) => {
    setBusy(action);
    setMessage(null);
    try {
      const next =
        action === 'pause'
          ? await api.rollout.pause.mutate({ rolloutId, ...withReason })
          : action === 'resume'
            ? await api.rollout.resume.mutate({ rolloutId })
            : action === 'advance'
              ? await api.rollout.advance.mutate({ rolloutId })
              : await api.rollout.cancel.mutate({ rolloutId, ...withReason });
      setMessage({ ok: true, text: `${action}: the rollout is now ${next.status}` });
      setReason('');
    } catch (error) {
      setMessage({ ok: false, text: `${action} failed: ${errorMessage(error)}` });
    } finally {
      setBusy(null);
      setConfirmCancel(false);
    }
  };

  // The confirm button replaces the cancel button: keep keyboard focus on it.
  useEffect(() => {
    if (confirmCancel) cancelRef.current?.focus();
  }, [confirmCancel]);

  const moreWaves = status.wave < status.waves.length - 1;
  return (
    <fieldset className="actions" aria-describedby={message ? `${reasonId}-msg` : undefined}>
      <legend>Control</legend>
      <label htmlFor={reasonId}>Reason (optional, for pause and cancel)</label>
      <input id={reasonId} value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
      <div className="buttons">
        {status.status === 'active' && (
          <button type="button" disabled={busy !== null} onClick={() => void run('pause')}>
            {busy === 'pause' ? 'Pausing…' : 'Pause'}
          </button>
        )}
        {status.status === 'paused' && (
          <button type="button" disabled={busy !== null} onClick={() => void run('resume')}>
            {busy === 'resume' ? 'Resuming…' : 'Resume'}
          </button>
        )}
        {moreWaves && (
          <button type="button" disabled={busy !== null} onClick={() => void run('advance')}>
            {busy === 'advance' ? 'Advancing…' : `Advance to wave ${status.wave + 2}`}
          </button>
        )}
        {!confirmCancel ? (
          <button
            type="button"
            className="danger"
            disabled={busy !== null}
            onClick={() => setConfirmCancel(true)}
          >
            Cancel rollout…
          </button>
        ) : (
          <fieldset className="confirm">
            <legend className="visually-hidden">Confirm cancel</legend>
            <button
              ref={cancelRef}
              type="button"
              className="danger"
              disabled={busy !== null}
              onClick={() => void run('cancel')}
            >
              {busy === 'cancel' ? 'Canceling…' : 'Yes, cancel the rollout'}
            </button>
            <button type="button" className="secondary" onClick={() => setConfirmCancel(false)}>
              Keep it
            </button>
          </fieldset>
        )}
      </div>
      <p id={`${reasonId}-msg`} role="status" className={message && !message.ok ? 'error' : 'muted'}>
        {message?.text ?? ''}
      </p>
    </fieldset>
  );
}
