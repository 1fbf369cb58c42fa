import type { DeliveryState, EventService, EventsInput, FleetEvent } from '@camfleet/contracts';
import type { FleetDeps } from './deps.js';
import { sleep } from './live-views.js';

type StreamEntry = [id: string, fields: string[]];
const POLL_MS = 250;

/** `1732-5` → [1732, 5], for ordering entries of different streams by time. */
function position(streamId: string): [number, number] {
  const [ms, seq] = streamId.split('-');
  return [Number(ms), Number(seq)];
}

/**
 * The event stream: rollout events in one capped stream, delivery events in one capped stream per
 * bucket (written by the same scripts that change the state, so no event is lost or invented).
 * Readers merge them by time. An event id is `<stream id>/<stream>`.
 */
export class Events implements EventService {
  private readonly streams: string[];
  private readonly tags: string[];

  constructor(private readonly deps: FleetDeps) {
    this.streams = [deps.keys.rolloutEvents, ...deps.keys.allBuckets.map((bucket) => bucket.key('events'))];
    this.tags = ['g', ...deps.keys.allBuckets.map((bucket) => `b${bucket.n}`)];
  }

  async list(input: EventsInput): Promise<FleetEvent[]> {
    // A filter may drop most entries: read more of each stream so a filtered page fills.
    const scan = input.rolloutId ? input.limit * 5 : input.limit;
    const redis = this.deps.redis;
    const perStream = (await Promise.all(
      this.streams.map((stream) =>
        input.after
          ? redis.xrange(stream, `(${streamIdOf(input.after)}`, '+', 'COUNT', scan)
          : redis.xrevrange(stream, '+', '-', 'COUNT', scan),
      ),
    )) as StreamEntry[][];
    const events = this.merge(perStream).filter((e) => !input.rolloutId || e.rolloutId === input.rolloutId);
    return input.after ? events.slice(0, input.limit) : events.slice(-input.limit);
  }

  /**
   * Follows every stream from `after` (or from now), polling without blocking the shared
   * connection. Around a resume, events of the same millisecond may come again: ids dedupe.
   */
  async *follow(options: {
    rolloutId: string | null;
    after: string | null;
    signal: AbortSignal;
  }): AsyncGenerator<FleetEvent> {
    let startMs: number;
    if (options.after) startMs = position(streamIdOf(options.after))[0];
    else {
      const [seconds, micros] = await this.deps.redis.time();
      startMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    }
    const cursors = this.streams.map(() => `${startMs - 1}-18446744073709551615`);
    if (options.after) cursors[this.tags.indexOf(tagOf(options.after))] = streamIdOf(options.after);
    while (!options.signal.aborted) {
      const perStream = (await Promise.all(
        this.streams.map((stream, i) => this.deps.redis.xrange(stream, `(${cursors[i]}`, '+', 'COUNT', 500)),
      )) as StreamEntry[][];
      perStream.forEach((entries, i) => {
        const last = entries[entries.length - 1];
        if (last) cursors[i] = last[0];
      });
      for (const event of this.merge(perStream)) {
        if (!options.rolloutId || event.rolloutId === options.rolloutId) yield event;
      }
      await sleep(POLL_MS, options.signal);
    }
  }

  private merge(perStream: StreamEntry[][]): FleetEvent[] {
    const all: Array<{ at: [number, number]; event: FleetEvent }> = [];
    perStream.forEach((entries, i) => {
      for (const [id, fields] of entries) {
        all.push({ at: position(id), event: eventFrom(`${id}/${this.tags[i]}`, fields) });
      }
    });
    all.sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1]);
    return all.map((x) => x.event);
  }
}

const streamIdOf = (eventId: string): string => eventId.split('/')[0] ?? '0-0';
const tagOf = (eventId: string): string => eventId.split('/')[1] ?? 'g';

function eventFrom(id: string, fields: string[]): FleetEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i] ?? ''] = fields[i + 1] ?? '';
  if (f.kind === 'rollout') {
    return {
      kind: 'rollout',
      id,
      at: Number(f.at),
      rolloutId: f.rid ?? '',
      type: f.type as Extract<FleetEvent, { kind: 'rollout' }>['type'],
      actor: f.actor ?? '',
      reason: f.reason || null,
      wave: f.wave ? Number(f.wave) : null,
    };
  }
  return {
    kind: 'delivery',
    id,
    at: Number(f.at),
    rolloutId: f.rid ?? '',
    deviceId: f.dev ?? '',
    attempt: Number(f.attempt),
    from: (f.from || null) as DeliveryState | null,
    to: f.to as DeliveryState,
    error: f.error || null,
  };
}
