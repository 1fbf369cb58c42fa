import type { StateCounts as Counts } from '@camfleet/contracts';
import { DELIVERY_STATES } from '@camfleet/contracts/states';
import { countOf, finishedOf, percentOf, totalOf } from '@camfleet/present';
import { type ReactNode, useEffect, useState } from 'react';
import { errorMessage } from './api.js';
import { SEGMENTS, showText } from './format.js';

/** A stacked bar of a rollout's deliveries by outcome; its label reads the same numbers. */
export function ProgressBar({
  counts,
  targeted,
  label,
}: {
  counts: Counts;
  targeted: number;
  label: string;
}) {
  const whole = Math.max(targeted, totalOf(counts));
  const done = finishedOf(counts);
  const parts = SEGMENTS.map((segment) => ({ ...segment, value: countOf(counts, segment.states) }));
  const text = parts
    .filter((p) => p.value > 0)
    .map((p) => `${p.value} ${p.label}`)
    .join(', ');
  return (
    <div
      className="bar"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={whole}
      aria-valuenow={done}
      aria-valuetext={`${done} of ${whole} finished${text ? `: ${text}` : ''}`}
    >
      {parts.map((p) =>
        p.value > 0 ? (
          <span
            key={p.key}
            className={`seg seg-${p.key}`}
            style={{ width: percentOf(p.value, whole) }}
            title={`${p.value} ${p.label}`}
          />
        ) : null,
      )}
    </div>
  );
}

export function Legend() {
  return (
    <ul className="legend" aria-label="Legend">
      {SEGMENTS.map((s) => (
        <li key={s.key}>
          <span className={`swatch seg-${s.key}`} aria-hidden="true" /> {s.label}
        </li>
      ))}
    </ul>
  );
}

/** A table's column headings, in order. */
export function ColumnHeads({ names }: { names: readonly string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th scope="col" key={name}>
            {name}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** Every delivery state with its count, in pipeline order. */
export function CountsTable({ counts, caption }: { counts: Counts; caption: string }) {
  return (
    <table className="counts">
      <caption>{caption}</caption>
      <tbody>
        {DELIVERY_STATES.map((state) => (
          <tr key={state} data-state={state}>
            <th scope="row">{state}</th>
            <td>{counts[state]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * A box that scrolls a wide table sideways. Focusable and named, so a keyboard can scroll it too
 * (a table of plain text has nothing else to focus: axe's scrollable-region-focusable).
 */
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to be scrolled by keyboard
    <section className="scroll" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p role="alert" className="error">
      {showText(errorMessage(error))}
    </p>
  );
}

/**
 * Runs `load` when mounted and again on `reload()` (the live views call it when a subscription
 * says something changed); the latest answer wins. No timers: nothing here polls.
 */
export function useQuery<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): { data: T | null; error: unknown; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `load` is keyed by the caller's deps
  useEffect(() => {
    let stopped = false;
    load().then(
      (value) => {
        if (stopped) return;
        setData(value);
        setError(null);
      },
      (err: unknown) => {
        if (!stopped) setError(err);
      },
    );
    return () => {
      stopped = true;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

/** The current time, updated every `everyMs` (0: not updated). */
function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (everyMs <= 0) return;
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export interface Sample {
  at: number;
  succeeded: number;
  failed: number;
  active: number;
}

const SERIES = [
  { key: 'succeeded', label: 'succeeded' },
  { key: 'failed', label: 'failed' },
  { key: 'active', label: 'in progress' },
] as const;

/**
 * A series as steps: each value holds until the next sample (samples are taken when counts change,
 * so a straight line between two of them would show changes that did not happen).
 */
function stepsOf(samples: readonly Sample[], key: (typeof SERIES)[number]['key']): Array<[number, number]> {
  return samples.flatMap((s, i): Array<[number, number]> => {
    const before = samples[i - 1];
    return before
      ? [
          [s.at, before[key]],
          [s.at, s[key]],
        ]
      : [[s.at, s[key]]];
  });
}

/** Succeeded / failed / in progress over time, as inline SVG (no chart library). */
export function TimeChart({
  samples,
  title,
  running,
}: {
  samples: readonly Sample[];
  title: string;
  /** Extend the lines to now (a paused or slow rollout still shows time passing). */
  running: boolean;
}) {
  const now = useNow(running ? 1_000 : 0);
  const width = 600;
  const height = 180;
  const pad = { left: 36, right: 8, top: 8, bottom: 22 };
  const recorded = samples[samples.length - 1];
  const first = samples[0];
  if (!first || !recorded) return <p className="muted">Waiting for the first snapshot…</p>;
  const last = running && now > recorded.at ? { ...recorded, at: now } : recorded;
  const points = last === recorded ? samples : [...samples, last];
  const maxY = Math.max(1, ...samples.flatMap((s) => [s.succeeded, s.failed, s.active]));
  const span = Math.max(1, last.at - first.at);
  const x = (at: number) => pad.left + ((at - first.at) / span) * (width - pad.left - pad.right);
  const y = (value: number) => pad.top + (1 - value / maxY) * (height - pad.top - pad.bottom);
  const summary = `Latest: ${last.succeeded} succeeded, ${last.failed} failed, ${last.active} in progress, over ${Math.round(
    span / 1000,
  )} s`;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}. ${summary}`}>
        <line className="axis" x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} />
        <line className="axis" x1={pad.left} x2={pad.left} y1={pad.top} y2={y(0)} />
        <text className="tick" x={pad.left - 4} y={y(maxY) + 4} textAnchor="end">
          {maxY}
        </text>
        <text className="tick" x={pad.left - 4} y={y(0)} textAnchor="end">
          0
        </text>
        <text className="tick" x={width - pad.right} y={height - 4} textAnchor="end">
          {Math.round(span / 1000)} s
        </text>
        {SERIES.map((series) => (
          <polyline
            key={series.key}
            className={`line line-${series.key}`}
            fill="none"
            points={stepsOf(points, series.key)
              .map(([at, value]) => `${x(at).toFixed(1)},${y(value).toFixed(1)}`)
              .join(' ')}
          />
        ))}
      </svg>
      <figcaption>
        <ul className="legend">
          {SERIES.map((series) => (
            <li key={series.key}>
              <span className={`swatch line-${series.key}`} aria-hidden="true" /> {series.label}:{' '}
              {last[series.key]}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
