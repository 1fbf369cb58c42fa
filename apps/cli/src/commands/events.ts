import type { FleetClient } from '@camfleet/client';
import { DELIVERY_STATES, type FleetEvent, RolloutId } from '@camfleet/contracts';
import type { Command } from 'commander';
import { type Colors, colorState } from '../colors.js';
import { CliError, describeError, EXIT, exitCodeOf } from '../errors.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { type Align, LiveTable, table, truncate } from '../table.js';
import { formatTimestamp } from '../time.js';
import { check, intOption } from '../validate.js';

type RolloutEvent = Extract<FleetEvent, { kind: 'rollout' }>;

const DEFAULT_LIMIT = 50;
const DEFAULT_FOLLOW_LIMIT = 20;
/** Repeats only come around a resume (events of the same millisecond): remembering this many is plenty. */
const DEDUPE_WINDOW = 10_000;

const HEAD = ['TIME', 'ROLLOUT', 'DEVICE', 'EVENT', 'ATTEMPT', 'DETAIL'] as const;
const ALIGN: readonly Align[] = ['left', 'left', 'left', 'left', 'right', 'left'];
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

/** Ids seen lately, the oldest forgotten first. `add` says whether the id is new. */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number = DEDUPE_WINDOW) {}

  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next();
      if (oldest.done !== true) this.ids.delete(oldest.value);
    }
    return true;
  }
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

export interface FollowOptions {
  rolloutId: string | undefined;
  limit: number;
  signal?: AbortSignal | undefined;
}

/** A live stream that broke off: its own exit code if it has a telling one (auth, …), 7 otherwise. */
function streamFailure(error: unknown): unknown {
  if (exitCodeOf(error) !== EXIT.FAILURE) return error;
  return new CliError(EXIT.UNREACHABLE, `the event stream failed: ${describeError(error)}`);
}

/**
 * Shows the newest `limit` events, then follows new ones until Ctrl-C (130) or until the stream
 * fails; it never ends otherwise. The list comes first, so a refused token or an unreachable
 * server fail fast; the stream then starts after the last listed event, so nothing falls in
 * between. The client resumes after reconnects by itself; an event that comes again is dropped.
 */
export function followEvents(client: FleetClient, options: FollowOptions, view: EventsView): Promise<never> {
  const { rolloutId, limit, signal } = options;
  const scope = rolloutId !== undefined ? { rolloutId } : {};
  return new Promise<never>((_, reject) => {
    let done = false;
    let subscription: { unsubscribe(): void } | null = null;
    const seen = new RecentIds();
    const fail = (error: unknown): void => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      subscription?.unsubscribe();
      reject(error);
    };
    const onAbort = (): void => fail(new CliError(EXIT.INTERRUPTED, 'interrupted'));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    client.events.list.query({ ...scope, limit }).then(
      (events) => {
        if (done) return;
        for (const event of events) seen.add(event.id);
        view.start(events);
        const last = events.at(-1);
        subscription = client.events.follow.subscribe(
          { ...scope, ...(last !== undefined ? { lastEventId: last.id } : {}) },
          {
            onData: (envelope) => {
              const event = envelope.data;
              if (done || !seen.add(event.id)) return;
              view.event(event);
            },
            onError: (error) => fail(streamFailure(error)),
            onComplete: () => fail(new CliError(EXIT.UNREACHABLE, 'the server ended the event stream')),
          },
        );
        if (done) subscription.unsubscribe();
      },
      (error: unknown) => fail(error),
    );
  });
}

interface EventsFlags {
  rollout?: string;
  limit?: string;
  follow?: boolean;
}

export function registerEventsCommand(program: Command, io: FleetIO): void {
  program
    .command('events')
    .description('what happened to rollouts and deliveries, oldest first; --follow to keep watching')
    .option('--rollout <id>', 'only the events of this rollout (ro_…)')
    .option(
      '--limit <n>',
      `how many of the newest events to show (1-1000; default ${DEFAULT_LIMIT}, ${
        DEFAULT_FOLLOW_LIMIT
      } with --follow)`,
    )
    .option('--follow', 'then print new events as they happen, until Ctrl-C')
    .addHelpText(
      'after',
      `
Columns: TIME, ROLLOUT, DEVICE (- for rollout events), EVENT (offered → downloading, paused,
wave 2 opened, …), ATTEMPT, DETAIL (a delivery's error; who changed a rollout, and why).

--follow prints the newest events, then one line per new event, until Ctrl-C (exit 130) or until
the event stream fails (exit 7, or 5 if access is refused). After a reconnect the stream resumes
where it left off; an event that comes twice is printed once.

--json prints one JSON array of events. With --follow it prints one JSON object per line
(NDJSON) instead: the one exception to "exactly one JSON document".

Examples:
  fleet events --rollout ro_x
  fleet events --follow --json | jq -c 'select(.kind == "delivery" and .to == "failed")'`,
    )
    .action(async (flags: EventsFlags, command: Command) => {
      const s = Session.of(io, command);
      const rolloutId = flags.rollout;
      if (rolloutId !== undefined) check(`--rollout '${rolloutId}'`, RolloutId, rolloutId);
      const follow = flags.follow === true;
      const limit =
        intOption('--limit', flags.limit, 1, 1000) ?? (follow ? DEFAULT_FOLLOW_LIMIT : DEFAULT_LIMIT);

      if (follow) {
        const view = s.json ? jsonLinesView(s) : eventLinesView(s, rolloutId);
        await s.withClient((client) => followEvents(client, { rolloutId, limit, signal: io.signal }, view));
        return;
      }
      const scope = rolloutId !== undefined ? { rolloutId } : {};
      const events = await s.withClient((client) => client.events.list.query({ ...scope, limit }));
      s.output(events, () => {
        if (events.length === 0) {
          s.note(rolloutId !== undefined ? `no events for rollout ${rolloutId}` : 'no events yet');
          return null;
        }
        return eventsTable(events, s.c, s);
      });
    });
}
