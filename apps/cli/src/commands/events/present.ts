import { DELIVERY_STATES, type FleetEvent } from '@camfleet/contracts';
import { type Colors, colorState } from '../../colors.js';
import type { Session } from '../../session.js';
import { type Align, LiveTable, table, truncate } from '../../table.js';
import { formatTimestamp } from '../../time.js';

type RolloutEvent = Extract<FleetEvent, { kind: 'rollout' }>;

export const HEAD = ['TIME', 'ROLLOUT', 'DEVICE', 'EVENT', 'ATTEMPT', 'DETAIL'] as const;
export const ALIGN: readonly Align[] = ['left', 'left', 'left', 'left', 'right', 'left'];
const DETAIL_WIDTH = 60;

function rolloutEventText(event: RolloutEvent, c: Colors): string {
  const wave = event.wave !== null ? `wave ${event.wave + 1}` : 'wave';
  switch (event.type) {
    case 'wave_met':
      return `${wave} met`;
    case 'wave_opened':
      return c.cyan(`${wave} opened`);
    case 'paused':
      return c.yellow(event.type);
    case 'canceled':
      return c.gray(event.type);
    case 'aborted':
      return c.red(event.type);
    default:
      return event.type;
  }
}

/** What happened: `offered → downloading` (`→ queued` for a new delivery), `paused`, `wave 2 opened`. */
export function eventText(event: FleetEvent, c: Colors): string {
  if (event.kind === 'rollout') return rolloutEventText(event, c);
  const to = colorState(event.to, c);
  return event.from !== null ? `${colorState(event.from, c)} → ${to}` : `→ ${to}`;
}

/** A delivery's error; who made a rollout event and why (`by bob: maintenance`); null if neither. */
export function eventDetail(event: FleetEvent): string | null {
  if (event.kind === 'delivery') return event.error?.trim() || null;
  const actor = event.actor.trim();
  const reason = event.reason?.trim() || null;
  if (actor !== '' && reason !== null) return `by ${actor}: ${reason}`;
  return actor !== '' ? `by ${actor}` : reason;
}

/** One table row: TIME, ROLLOUT, DEVICE (`-` for rollout events), EVENT, ATTEMPT, DETAIL. */
export function eventRow(
  event: FleetEvent,
  c: Colors,
  cut: (text: string, max: number) => string = truncate,
): string[] {
  const detail = eventDetail(event);
  return [
    formatTimestamp(event.at),
    event.rolloutId,
    event.kind === 'delivery' ? event.deviceId : '-',
    eventText(event, c),
    event.kind === 'delivery' ? String(event.attempt) : '-',
    detail !== null ? cut(detail, DETAIL_WIDTH) : '-',
  ];
}

/** The events as a table; `s` fits it to the terminal (in full when piped). */
export function eventsTable(events: readonly FleetEvent[], c: Colors, s?: Session): string {
  if (s !== undefined) {
    return s.table(
      HEAD,
      events.map((event) => eventRow(event, c, (text, max) => s.cell(text, max))),
      ALIGN,
    );
  }
  return table(
    HEAD,
    events.map((event) => eventRow(event, c)),
    c,
    ALIGN,
  );
}

/** Where followed events go: the newest ones first, then each new one. */
export interface EventsView {
  start(events: readonly FleetEvent[]): void;
  event(event: FleetEvent): void;
}

/** Lines in the columns of `eventsTable`, the header once; wide enough up front for typical ids. */
export function eventLinesView(s: Session, rolloutId: string | undefined): EventsView {
  const longestState = Math.max(...DELIVERY_STATES.map((state) => state.length));
  const live = new LiveTable(HEAD, s.c, ALIGN, [
    formatTimestamp(0).length,
    // Server-made rollout ids are ro_ and 20 hex digits; device ids are the devices' own.
    rolloutId?.length ?? 'ro_'.length + 20,
    8,
    2 * longestState + ' → '.length,
  ]);
  return {
    start(events) {
      const rows = events.map((event) => eventRow(event, s.c));
      live.fit(rows);
      s.print(live.header());
      for (const row of rows) s.print(live.line(row));
      if (events.length === 0) s.note('no events yet; waiting for new ones (Ctrl-C to stop)');
    },
    event(event) {
      s.print(live.line(eventRow(event, s.c)));
    },
  };
}

/** NDJSON: one compact JSON object per event. */
export function jsonLinesView(s: Session): EventsView {
  return {
    start(events) {
      for (const event of events) s.emitJsonLine(event);
    },
    event(event) {
      s.emitJsonLine(event);
    },
  };
}
