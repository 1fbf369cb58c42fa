import type { Delivery, HistoryEntry } from '@camfleet/contracts';
import { type DeliveryStateName, FINAL_STATES } from '@camfleet/contracts/states';
import { Legend } from '../components.js';
import { formatClock, formatTime, SEGMENTS, showText } from '../format.js';

const WIDTH = 640;
const PAD = { left: 8, right: 12, top: 4, bottom: 22 };
/** A lane: its rollout id on one line, the bar and marks under it. */
const LANE = 36;
const BAR_Y = 24;

/** One rollout's delivery to this device, and its changes from the device's history, oldest first. */
interface Lane {
  rolloutId: string;
  /** Null when the history still names a rollout whose delivery is no longer listed. */
  delivery: Delivery | null;
  changes: HistoryEntry[];
}

/** The bar segment a state is drawn in (succeeded, failed, canceled, active, queued): the same colours. */
function segmentOf(state: DeliveryStateName): string {
  return SEGMENTS.find((s) => (s.states as readonly string[]).includes(state))?.key ?? 'queued';
}

/** The axis' span: `40 s`, `12 min`, `3 h`. */
function spanText(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** Every delivery gets a lane, and so does every rollout in the history: each change gets its mark. */
function lanesOf(deliveries: readonly Delivery[], history: readonly HistoryEntry[]): Lane[] {
  const lanes = new Map<string, Lane>();
  for (const delivery of deliveries)
    lanes.set(delivery.rolloutId, { rolloutId: delivery.rolloutId, delivery, changes: [] });
  // The history is newest first: walked backwards, each lane's changes come oldest first.
  for (const entry of [...history].reverse()) {
    const lane = lanes.get(entry.rolloutId) ?? { rolloutId: entry.rolloutId, delivery: null, changes: [] };
    lane.changes.push(entry);
    lanes.set(entry.rolloutId, lane);
  }
  return [...lanes.values()].sort((a, b) => startOf(a) - startOf(b));
}

function startOf(lane: Lane): number {
  return Math.min(
    lane.delivery?.createdAt ?? Number.POSITIVE_INFINITY,
    lane.changes[0]?.at ?? Number.POSITIVE_INFINITY,
  );
}

/** Where a lane's bar ends: its last update when final, now while the delivery still moves. */
function endOf(lane: Lane, now: number): number {
  const lastChange = lane.changes[lane.changes.length - 1]?.at ?? Number.NEGATIVE_INFINITY;
  const d = lane.delivery;
  if (!d) return lastChange;
  return Math.max(lastChange, FINAL_STATES.includes(d.state) ? d.updatedAt : now);
}

const isOpen = (lane: Lane) => lane.delivery !== null && !FINAL_STATES.includes(lane.delivery.state);

/**
 * A device's deliveries on one time axis, as inline SVG: a lane per rollout, its bar from when the
 * delivery was created to its last update (to now while it moves), a mark per state change in the
 * state's colour. Screen readers get a summary (aria-label) and the changes as a list.
 */
export function DeviceTimeline({
  deliveries,
  history,
}: {
  deliveries: readonly Delivery[];
  history: readonly HistoryEntry[];
}) {
  const lanes = lanesOf(deliveries, history);
  if (lanes.length === 0) return null;
  // Read at render: the page renders again on each of the device's events, which is when bars move.
  const now = Date.now();
  const open = lanes.some(isOpen);
  const from = Math.min(...lanes.map(startOf));
  const to = Math.max(from + 1, ...lanes.map((lane) => endOf(lane, now)));
  const x = (at: number) => PAD.left + ((at - from) / (to - from)) * (WIDTH - PAD.left - PAD.right);
  const height = PAD.top + lanes.length * LANE + PAD.bottom;
  const axisY = height - PAD.bottom + 2;
  const states = lanes.flatMap((lane) => (lane.delivery ? [`${lane.rolloutId} ${lane.delivery.state}`] : []));
  const summary =
    `Deliveries over time: ${lanes.length} ${lanes.length === 1 ? 'rollout' : 'rollouts'}, ` +
    `${history.length} state changes from ${formatTime(from)} to ${open ? 'now' : formatTime(to)}. ` +
    `Now: ${states.join(', ') || 'no delivery listed'}.`;

  return (
    <figure className="timeline">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={summary} data-testid="device-timeline">
        {lanes.map((lane, i) => {
          const top = PAD.top + i * LANE;
          const d = lane.delivery;
          const barFrom = d ? x(d.createdAt) : 0;
          return (
            <g key={lane.rolloutId}>
              <text className="tick" x={PAD.left} y={top + 12}>
                {lane.rolloutId}
                {d && ` · ${d.state}`}
              </text>
              {d && (
                <rect
                  className={`lane lane-${segmentOf(d.state)}`}
                  x={barFrom}
                  y={top + BAR_Y - 3}
                  width={Math.max(2, x(endOf(lane, now)) - barFrom)}
                  height={6}
                  rx={3}
                />
              )}
              {lane.changes.map((h, j) => (
                <circle
                  // biome-ignore lint/suspicious/noArrayIndexKey: history entries have no id
                  key={j}
                  className={`mark mark-${segmentOf(h.to)}`}
                  cx={x(h.at)}
                  cy={top + BAR_Y}
                  r={5}
                  data-state={h.to}
                >
                  <title>
                    {formatClock(h.at)}: {h.from ?? 'new'} → {h.to} (attempt {h.attempt})
                  </title>
                </circle>
              ))}
            </g>
          );
        })}
        <line className="axis" x1={PAD.left} x2={WIDTH - PAD.right} y1={axisY} y2={axisY} />
        <text className="tick" x={PAD.left} y={height - 4}>
          {formatClock(from)}
        </text>
        <text className="tick" x={WIDTH / 2} y={height - 4} textAnchor="middle">
          {spanText(to - from)}
        </text>
        <text className="tick" x={WIDTH - PAD.right} y={height - 4} textAnchor="end">
          {open ? 'now' : formatClock(to)}
        </text>
      </svg>
      <figcaption>
        Deliveries over time: a lane per rollout, a mark per state change.
        <Legend />
      </figcaption>
      <ol className="visually-hidden">
        {lanes.map((lane) => (
          <li key={lane.rolloutId}>
            Rollout {lane.rolloutId}
            {lane.delivery && `, now ${lane.delivery.state}`}:{' '}
            {lane.changes
              .map(
                (h) => `${h.to} at ${formatClock(h.at)}${h.error !== null ? ` (${showText(h.error)})` : ''}`,
              )
              .join(', ') || 'no changes kept'}
          </li>
        ))}
      </ol>
    </figure>
  );
}
