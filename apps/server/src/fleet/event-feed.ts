import { limitError } from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import type { Logger } from 'pino';
import { sleep } from './live-views.js';
import { Wakeable } from './wakeable.js';

export type StreamEntry = [id: string, fields: string[]];

/** `1732-5` → [1732, 5], for ordering entries of different streams by time. */
export function streamPosition(streamId: string): [number, number] {
  const [ms, seq] = streamId.split('-');
  return [Number(ms), Number(seq)];
}

/** a < b, for two stream ids of the same stream. */
export function streamIdBefore(a: string, b: string): boolean {
  const [am, as] = streamPosition(a);
  const [bm, bs] = streamPosition(b);
  return am < bm || (am === bm && as < bs);
}

/**
 * Entries of several streams, each read with COUNT `count`, cut where all of them are known
 * complete: a stream that returned `count` entries may hold more before the others' later ones, so
 * nothing past its last entry is taken this round (it comes, in order, with the next read). Taking
 * it would let a follower see a later event of one stream before an earlier one of another, and a
 * resume after the later one would skip the earlier.
 */
export function completePrefix(perStream: StreamEntry[][], count: number): StreamEntry[][] {
  let bound: string | null = null;
  for (const entries of perStream) {
    const last = entries[entries.length - 1];
    if (entries.length >= count && last && (bound === null || streamIdBefore(last[0], bound)))
      bound = last[0];
  }
  if (bound === null) return perStream;
  const limit = bound;
  return perStream.map((entries) => entries.filter(([id]) => !streamIdBefore(limit, id)));
}

/** Reads the streams after per-stream cursors (exclusive), COUNT at most per stream. */
export interface StreamReader {
  /** New entries by stream index; may wait a few seconds for some to appear. */
  read(cursors: readonly string[]): Promise<StreamEntry[][]>;
  close(): void;
}

export const READ_COUNT = 500;
/** How long one blocking read waits before it asks again (an idle pod: one command per period). */
const BLOCK_MS = 5_000;

/**
 * One XREAD BLOCK over every stream on a connection of its own: woken by the first write, idle
 * otherwise. Not on Redis Cluster, where one command cannot span the buckets' slots.
 */
export function blockingReader(
  streams: readonly string[],
  connect: () => RedisClient,
  log: Logger,
): StreamReader {
  const connection = connect();
  connection.on('error', (err: Error) => log.warn({ err: err.message }, 'event feed connection error'));
  return {
    async read(cursors) {
      const reply = (await connection.xread(
        'COUNT',
        READ_COUNT,
        'BLOCK',
        BLOCK_MS,
        'STREAMS',
        ...streams,
        ...cursors,
      )) as Array<[string, StreamEntry[]]> | null;
      const perStream: StreamEntry[][] = streams.map(() => []);
      for (const [stream, entries] of reply ?? []) perStream[streams.indexOf(stream)] = entries;
      return perStream;
    },
    close: () => connection.disconnect(),
  };
}

/**
 * XRANGE of every stream on the shared connection (auto-pipelined: one round trip per master),
 * then a pause when nothing came: the Cluster reader, once per pod whatever the followers.
 */
export function pollingReader(streams: readonly string[], redis: RedisClient, pollMs: number): StreamReader {
  const stop = new AbortController();
  return {
    async read(cursors) {
      const perStream = (await Promise.all(
        streams.map((stream, i) => redis.xrange(stream, `(${cursors[i]}`, '+', 'COUNT', READ_COUNT)),
      )) as StreamEntry[][];
      if (perStream.every((entries) => entries.length === 0)) await sleep(pollMs, stop.signal);
      return perStream;
    },
    close: () => stop.abort(),
  };
}

/** An entry of one stream, decoded once for every follower. */
export interface FeedItem<T> {
  stream: number;
  streamId: string;
  value: T;
}

export interface EventFeedOptions<T> {
  /** The streams now: the list only grows (a bucket growth adds streams at its end). */
  streams: () => readonly string[];
  openReader: () => StreamReader;
  /** Entries of all streams as items, in the order followers get them. */
  decode: (perStream: StreamEntry[][]) => FeedItem<T>[];
  /** Redis time in ms: the feed starts at "now". */
  now: () => Promise<number>;
  /** Items a follower may have waiting; past it the follower is dropped (it resumes by id). */
  queueLimit: number;
  /** Least time between two reads while events flow: batches instead of a read per write. */
  batchMs: number;
  log: Logger;
}

/**
 * The pod's one reader of the event streams, fanned out to every follower here: Redis load of
 * following is the same for one follower or five hundred. It runs while anyone follows. Each
 * follower has a bounded queue; one that falls behind is told (TOO_MANY_REQUESTS,
 * follower_too_slow) and dropped instead of buffered for, and resumes after its last event id.
 */
export class EventFeed<T> {
  private readonly followers = new Set<FeedFollower<T>>();
  private running: { stop: () => void } | null = null;
  private started = false;

  constructor(private readonly options: EventFeedOptions<T>) {}

  /** A follower that gets every item read from now on, until it leaves. */
  join(): FeedFollower<T> {
    const follower = new FeedFollower<T>(this.options.queueLimit, () => this.leave(follower));
    this.followers.add(follower);
    if (!this.running) this.start();
    return follower;
  }

  /** Followers whose items are flowing (the feed has its starting point). */
  get liveFollowers(): number {
    return this.started ? this.followers.size : 0;
  }

  private leave(follower: FeedFollower<T>): void {
    this.followers.delete(follower);
    if (this.followers.size === 0) {
      this.running?.stop();
      this.running = null;
      this.started = false;
    }
  }

  private start(): void {
    const { openReader, decode, now, streams, batchMs, log } = this.options;
    const stop = new AbortController();
    let reader: StreamReader | null = null;
    this.running = {
      stop: () => {
        stop.abort();
        reader?.close();
      },
    };
    const isCurrent = () => !stop.signal.aborted;
    void (async () => {
      let cursors: string[] | null = null;
      let startCursor = '';
      while (isCurrent()) {
        try {
          if (!cursors) {
            const startMs = await now();
            if (!isCurrent()) break;
            reader ??= openReader();
            startCursor = `${startMs - 1}-18446744073709551615`;
            cursors = streams().map(() => startCursor);
            this.started = true;
          }
          const added = streams().length - cursors.length;
          if (added > 0) {
            // New buckets' streams: read from the feed's start, by a reader that knows them.
            cursors.push(...Array.from({ length: added }, () => startCursor));
            reader?.close();
            reader = openReader();
          }
          const perStream = completePrefix(await (reader as StreamReader).read(cursors), READ_COUNT);
          if (!isCurrent()) break;
          perStream.forEach((entries, i) => {
            const last = entries[entries.length - 1];
            if (last && cursors) cursors[i] = last[0];
          });
          const items = decode(perStream);
          if (items.length === 0) continue;
          for (const follower of this.followers) follower.push(items);
          await sleep(batchMs, stop.signal);
        } catch (err) {
          if (!isCurrent()) break;
          // Redis away or failing over: the followers wait, the feed asks again shortly.
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'event feed read failed');
          await sleep(1_000, stop.signal);
        }
      }
    })();
  }
}

/** One follower's place in the feed: a bounded queue of what it has not taken yet. */
export class FeedFollower<T> {
  private queue: FeedItem<T>[] = [];
  private overflowed = false;
  private readonly consumer = new Wakeable();

  constructor(
    private readonly limit: number,
    readonly leave: () => void,
  ) {}

  /**
   * A new batch. A follower still holding more than its limit from earlier batches is too slow; one
   * that has taken what it had gets any batch whole (one read holds at most 500 entries a stream).
   */
  push(items: readonly FeedItem<T>[]): void {
    if (this.overflowed) return;
    if (this.queue.length > this.limit) {
      this.overflowed = true;
      this.queue = [];
    } else this.queue.push(...items);
    this.consumer.wake();
  }

  /** Batches as they come, until the signal aborts; throws once the follower fell behind. */
  batches(signal: AbortSignal): AsyncGenerator<FeedItem<T>[]> {
    return this.consumer.drain(() => {
      if (this.overflowed) {
        throw limitError(
          { name: 'follower_too_slow', knob: 'FLEET_EVENTS_FOLLOWER_QUEUE', retryAfterSeconds: 1 },
          `more than ${this.limit} events waited for this follower; resume after the last event id`,
        );
      }
      if (this.queue.length === 0) return null;
      const batch = this.queue;
      this.queue = [];
      return batch;
    }, signal);
  }
}
