import type { DeviceEvent as ServerEvent } from '@camfleet/contracts';
import type { Connection } from './connection.js';
import type { DeviceContext } from './context.js';
import { classifyFailure, describeFailure } from './outcome.js';

/** What the session does for the feed on one connection. */
export interface FeedHooks {
  /** Whether the connection is still the device's current one (events from an old one are dropped). */
  current: () => boolean;
  /** The server refused the device's credentials: it stops for good. */
  refused: (message: string) => void;
  /** The subscription failed or ended: register again after `delayMs`, then subscribe again. */
  retry: (delayMs: number) => void;
}

/**
 * The offers subscription (spec: "Session and auth", lastEventId): the offers and cancels the
 * server pushes, resumed on every new session after the last event seen, so none is missed or
 * repeated across a fail-over.
 */
export class OfferFeed {
  /** The last event id seen (an offer's, or a cancel's), so a new session resumes after it. */
  private lastEventId: string | null = null;
  private attempt = 0;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly onEvent: (event: ServerEvent) => void,
  ) {}

  /** A crash or restart forgets the position: the server sends what is pending anew. */
  forget(): void {
    this.lastEventId = null;
  }

  subscribe(connection: Connection, hooks: FeedHooks): void {
    let settled = false;
    let subscription: { unsubscribe: () => void } | null = null;
    const retry = (): void => {
      if (settled || !hooks.current()) return;
      settled = true;
      subscription?.unsubscribe();
      hooks.retry(this.ctx.backoff(this.attempt++));
    };
    subscription = connection.client.device.offers.subscribe(
      { lastEventId: this.lastEventId },
      {
        onStarted: () => {
          if (hooks.current())
            this.ctx.emit({ type: 'subscribed', deviceId: this.ctx.id, url: connection.url });
        },
        onData: (envelope) => {
          if (!hooks.current()) return;
          this.attempt = 0;
          this.lastEventId = envelope.id;
          this.onEvent(envelope.data);
        },
        onError: (error) => {
          if (!hooks.current()) return;
          if (classifyFailure(error) === 'credentials') return hooks.refused(describeFailure(error));
          retry();
        },
        onComplete: () => retry(),
      },
    );
  }
}
