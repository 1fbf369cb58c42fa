import type { DeliveryState, EventService, EventsInput, FleetEvent } from '@camfleet/contracts';
import type { FleetDeps } from './deps.js';
import {
  blockingReader,
  completePrefix,
  EventFeed,
  type FeedItem,
  pollingReader,
  READ_COUNT,
  type StreamEntry,
  streamIdBefore,
  streamPosition,
} from './event-feed.js';

/** What the feed reads when the deps give no connection for blocking reads (Redis Cluster). */
const POLL_MS = 250;
const BATCH_MS = 50;
const DEFAULT_QUEUE_LIMIT = 5_000;

/**
 * The event stream: rollout events in one capped stream, delivery events in one capped stream per
 * bucket (written by the same scripts that change the state, so no event is lost or invented).
 * Readers merge them by time. An event id is `<stream id>/<stream>`. Followers share the pod's
 * one feed; a follower resuming after an id first reads what it missed, then joins the feed.
 */
export class Events implements EventService {
  /** The streams and their tags for the layout's buckets (`b<n>`), after the rollout events (`g`). */
  private known = { buckets: 0, streams: [] as string[], tags: [] as string[] };
  readonly feed: EventFeed<FleetEvent>;

  constructor(private readonly deps: FleetDeps) {
    const connectBlocking = deps.events?.connectBlocking;
    this.feed = new EventFeed({
      streams: () => this.streams,
      openReader: () =>
        connectBlocking
          ? blockingReader(this.streams, connectBlocking, deps.log)
          : pollingReader(this.streams, deps.redis, POLL_MS),
      decode: (perStream) => this.merge(perStream),
      now: () => this.now(),
      queueLimit: deps.events?.followerQueue ?? DEFAULT_QUEUE_LIMIT,
      batchMs: BATCH_MS,
      log: deps.log,
    });
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
    const events = this.merge(perStream)
      .map((item) => item.value)
      .filter((e) => !input.rolloutId || e.rolloutId === input.rolloutId);
    return input.after ? events.slice(0, input.limit) : events.slice(-input.limit);
  }

  /**
   * Follows every stream from `after` (or from now). A resumed follower joins the feed first, then
   * reads the streams from its cursors until it has caught up; what the feed brings after that is
   * passed on only past each stream's cursor, so nothing comes twice and nothing is skipped.
   */
  async *follow(options: {
    rolloutId: string | null;
    after: string | null;
    signal: AbortSignal;
  }): AsyncGenerator<FleetEvent> {
    const wanted = (event: FleetEvent) => !options.rolloutId || event.rolloutId === options.rolloutId;
    const follower = this.feed.join();
    try {
      let cursors: string[] | null = null;
      if (options.after) {
        const startMs = streamPosition(streamIdOf(options.after))[0];
        cursors = this.streams.map(() => `${startMs - 1}-18446744073709551615`);
        cursors[this.tags.indexOf(tagOf(options.after))] = streamIdOf(options.after);
        for (;;) {
          const from = cursors;
          const perStream = (await Promise.all(
            this.streams.map((stream, i) =>
              this.deps.redis.xrange(stream, `(${from[i]}`, '+', 'COUNT', READ_COUNT),
            ),
          )) as StreamEntry[][];
          const missed = this.merge(completePrefix(perStream, READ_COUNT));
          if (missed.length === 0 || options.signal.aborted) break;
          for (const item of missed) {
            from[item.stream] = item.streamId;
            if (wanted(item.value)) yield item.value;
          }
        }
      }
      for await (const batch of follower.batches(options.signal)) {
        for (const item of batch) {
          if (cursors) {
            const seen = cursors[item.stream] ?? '0-0';
            if (!streamIdBefore(seen, item.streamId)) continue;
            cursors[item.stream] = item.streamId;
          }
          if (wanted(item.value)) yield item.value;
        }
      }
    } finally {
      follower.leave();
    }
  }

  private get streams(): readonly string[] {
    return this.streamsAndTags().streams;
  }
  private get tags(): readonly string[] {
    return this.streamsAndTags().tags;
  }
  private streamsAndTags() {
    const { keys } = this.deps;
    if (this.known.buckets !== keys.allBuckets.length) {
      this.known = {
        buckets: keys.allBuckets.length,
        streams: [keys.rolloutEvents, ...keys.allBuckets.map((bucket) => bucket.key('events'))],
        tags: ['g', ...keys.allBuckets.map((bucket) => `b${bucket.n}`)],
      };
    }
    return this.known;
  }

  private async now(): Promise<number> {
    const [seconds, micros] = await this.deps.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  private merge(perStream: StreamEntry[][]): FeedItem<FleetEvent>[] {
    const all: Array<{ at: [number, number]; item: FeedItem<FleetEvent> }> = [];
    perStream.forEach((entries, i) => {
      for (const [id, fields] of entries) {
        all.push({
          at: streamPosition(id),
          item: { stream: i, streamId: id, value: eventFrom(`${id}/${this.tags[i]}`, fields) },
        });
      }
    });
    all.sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1]);
    return all.map((x) => x.item);
  }
}

const streamIdOf = (eventId: string): string => eventId.split('/')[0] ?? '0-0';
const tagOf = (eventId: string): string => eventId.split('/')[1] ?? 'g';

/** A stream entry's fields as the event they record (`id`: `<stream id>/<stream tag>`). */
export function eventFrom(id: string, fields: string[]): FleetEvent {
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
