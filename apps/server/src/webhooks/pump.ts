import type { FleetDeps } from '../fleet/deps.js';
import { type StreamEntry, streamIdBefore } from '../fleet/event-feed.js';
import { eventFrom } from '../fleet/events.js';
import { type EnqueueEntry, webhookEnqueue, webhookPumpLease } from '../redis/scripts/index.js';
import type { WebhookMetrics } from './metrics.js';
import { webhookPayloadOf, webhookTypeOf } from './payload.js';
import { LOG_KEEP, type WebhookSettings } from './settings.js';

/** Entries read from one stream in a pass. */
const READ_COUNT = 500;
/** Entries fanned out by one script call (each may make a delivery per endpoint). */
const ENQUEUE_BATCH = 100;
/** Events this long before an endpoint's creation are not read for it (clock skew between writers). */
const CREATION_SLACK_MS = 1_000;

/**
 * Fans the fleet's event streams (rollout events in `{g}`, delivery events in each bucket) out into
 * webhook deliveries. Each step is its own slot: reading a stream (a read of `{b<n>}`), then one
 * webhook_enqueue in `{g}` that makes the deliveries and moves that stream's cursor, compare-and-set,
 * so a pod dying between the two reads again and makes no duplicates. One pod pumps at a time (a
 * lease in Redis); when it dies, another takes over within the lease.
 */
export class WebhookPump {
  constructor(
    private readonly deps: FleetDeps,
    private readonly settings: WebhookSettings,
    private readonly leaseMs: number,
    private readonly metrics: WebhookMetrics,
  ) {}

  /** The rollout events and each bucket's delivery events, as the layout has buckets now. */
  private get streams(): Array<{ key: string; tag: string }> {
    const { keys } = this.deps;
    return [
      { key: keys.rolloutEvents, tag: 'g' },
      ...keys.allBuckets.map((bucket) => ({ key: bucket.key('events'), tag: `b${bucket.n}` })),
    ];
  }

  /** One pass: true when a stream had more than one read holds (pass again at once). */
  async pass(): Promise<boolean> {
    const { redis, keys, scripts, instance } = this.deps;
    if (!(await scripts.run(webhookPumpLease, { instance, leaseMs: this.leaseMs }))) return false;
    // Only events since the oldest endpoint was created can be delivered to anyone.
    const [oldest, createdAt] = await redis.zrange(keys.webhook('endpoints'), '0', '0', 'WITHSCORES');
    if (oldest === undefined) return false;
    const floor = `${Math.max(0, Number(createdAt) - CREATION_SLACK_MS)}-0`;
    const cursors = await redis.hgetall(keys.webhook('cursors'));
    const streams = this.streams;
    const reads = (await Promise.all(
      streams.map(({ key, tag }) => {
        const cursor = cursors[tag] ?? '0-0';
        const from = streamIdBefore(cursor, floor) ? floor : `(${cursor}`;
        return redis.xrange(key, from, '+', 'COUNT', READ_COUNT);
      }),
    )) as StreamEntry[][];
    let more = false;
    await Promise.all(
      reads.map(async (entries, i) => {
        const stream = streams[i];
        if (!stream || entries.length === 0) return;
        if (entries.length >= READ_COUNT) more = true;
        for (let at = 0; at < entries.length; at += ENQUEUE_BATCH)
          await this.enqueue(stream.tag, entries.slice(at, at + ENQUEUE_BATCH));
      }),
    );
    return more;
  }

  private async enqueue(tag: string, entries: StreamEntry[]): Promise<void> {
    const batch = entries.map(([streamId, fields]): EnqueueEntry => {
      const event = eventFrom(`${streamId}/${tag}`, fields);
      return {
        streamId,
        eventId: event.id,
        type: webhookTypeOf(event),
        at: event.at,
        body: JSON.stringify(webhookPayloadOf(event)),
      };
    });
    const { made, dropped } = await this.deps.scripts.run(webhookEnqueue, {
      tag,
      maxBacklog: this.settings.maxBacklog,
      logKeep: LOG_KEEP,
      entries: batch,
    });
    if (made > 0)
      this.deps.log.debug(
        { stream: tag, events: batch.length, deliveries: made },
        'webhook deliveries queued',
      );
    for (const { endpointId, count } of dropped) {
      this.metrics.dropped.inc(count);
      this.deps.log.warn(
        { webhookId: endpointId, dropped: count, backlogLimit: this.settings.maxBacklog },
        'webhook backlog full: its oldest deliveries dropped',
      );
    }
  }
}
