import { type FleetClient, limitNameOf } from '@camfleet/client';
import { CliError, describeError, EXIT, exitCodeOf } from '../../errors.js';
import type { EventsView } from './present.js';

/** Repeats only come around a resume (events of the same millisecond): remembering this many is plenty. */
const DEDUPE_WINDOW = 10_000;

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
        let lastId = events.at(-1)?.id;
        const follow = (): void => {
          subscription = client.events.follow.subscribe(
            { ...scope, ...(lastId !== undefined ? { lastEventId: lastId } : {}) },
            {
              onData: (envelope) => {
                const event = envelope.data;
                if (done || !seen.add(event.id)) return;
                lastId = event.id;
                view.event(event);
              },
              onError: (error) => {
                // Fell behind the pod's feed (a slow terminal or pipe): resume after the last event shown.
                if (limitNameOf(error) === 'follower_too_slow' && !done) {
                  subscription?.unsubscribe();
                  return follow();
                }
                fail(streamFailure(error));
              },
              onComplete: () => fail(new CliError(EXIT.UNREACHABLE, 'the server ended the event stream')),
            },
          );
        };
        follow();
        if (done) subscription?.unsubscribe();
      },
      (error: unknown) => fail(error),
    );
  });
}
