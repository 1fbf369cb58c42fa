import type { RedisClient } from '@camfleet/redis';
import type { HintKind, Metrics } from '../metrics.js';
import type { KeySpace } from '../redis/keys.js';
import type { RelayedOffers } from '../redis/scripts/index.js';

export interface HintHandlers {
  /** Work may have appeared for these devices (held by this pod). */
  devices(deviceIds: string[]): void;
  /** Offers a script made for connections held here: push them. */
  offers(offers: RelayedOffers[]): void;
  /** Work may have appeared for many devices: evaluate every local one. */
  broadcast(): void;
  /** A limited rollout freed a slot: retry the devices parked here for it. */
  capacity(rolloutId: string): void;
  /** Close this device's connections here (credentials revoked or rotated). */
  kick(deviceId: string, code: number, reason: string): void;
  /** Close one connection here (its device connected again elsewhere). */
  drop(connectionId: string): void;
  /** This pod was declared dead while alive: put the devices it holds back online. */
  reassert(): void;
}

/** On a pod's own channel: it was reaped while alive. (Device ids never start with '!'.) */
const REASSERT = '!reassert';
/** On a pod's own channel: offers to push, as JSON (RelayedOffers[]: each offer once, then its devices). */
const OFFERS = '!offers:';

/**
 * Hints between pods over sharded pub/sub (SPUBLISH/SSUBSCRIBE): one subscriber per pod, fan-out
 * in process. Sharded, because in a cluster a plain PUBLISH is copied to every node over the
 * cluster bus, while a sharded one goes only to the shard that owns the channel's slot; each pod's
 * channel hashes to its own slot, so hint traffic spreads over the masters. One Redis treats it as
 * ordinary pub/sub. Hints can be lost (fire-and-forget, and a failover drops a shard's
 * subscriptions until the client subscribes again); the deadline sweeper re-hints what stays due.
 */
export class HintBus {
  constructor(
    private readonly subscriber: RedisClient,
    private readonly publisher: RedisClient,
    private readonly keys: KeySpace,
    private readonly instance: string,
    private readonly metrics: Metrics,
    private readonly handlers: HintHandlers,
  ) {}

  private count(kind: HintKind): void {
    this.metrics.hints.inc({ kind });
  }

  async start(): Promise<void> {
    const own = this.keys.hintChannel(this.instance);
    const all = this.keys.broadcastChannel;
    this.subscriber.on('smessage', (channel: string, message: string) => {
      if (channel === all) {
        if (message.startsWith('cap:')) {
          this.count('capacity');
          this.handlers.capacity(message.slice(4));
        } else if (message.startsWith('kick:')) {
          const [, code, deviceId, reason] = message.split('\n');
          this.count('kick');
          this.handlers.kick(deviceId ?? '', Number(code), reason ?? '');
        } else {
          this.count('broadcast');
          this.handlers.broadcast();
        }
      } else if (channel === own && message.startsWith('!drop:')) {
        this.count('drop');
        this.handlers.drop(message.slice(6));
      } else if (channel === own && message === REASSERT) {
        this.count('reassert');
        this.handlers.reassert();
      } else if (channel === own && message.startsWith(OFFERS)) {
        this.count('offers');
        this.handlers.offers(JSON.parse(message.slice(OFFERS.length)) as RelayedOffers[]);
      } else if (channel === own && message.length > 0) {
        this.count('devices');
        this.handlers.devices(message.split('\n'));
      }
    });
    // One call per channel: the two hash to different slots, possibly on different masters.
    await this.subscriber.ssubscribe(own);
    await this.subscriber.ssubscribe(all);
    // What was published while the subscriber was reconnecting is lost: relayed offers, hints and
    // broadcasts alike. Every local device is evaluated again (a claim re-sends an offer in flight).
    // (One Redis: `ready` once subscribed again. A cluster client: `subscribersReady`, once its
    // sharded subscribers are.)
    this.subscriber.on('ready', this.resubscribed);
    this.subscriber.on('subscribersReady', this.resubscribed);
  }

  private readonly resubscribed = () => {
    this.count('broadcast');
    this.handlers.broadcast();
  };

  /** Sends each pod instance the devices it should evaluate; this pod's own go straight in. */
  async hint(deviceIdsByInstance: Map<string, string[]>): Promise<void> {
    const sends: Promise<unknown>[] = [];
    for (const [instance, deviceIds] of deviceIdsByInstance) {
      if (deviceIds.length === 0 || instance === '') continue;
      if (instance === this.instance) {
        this.count('devices');
        this.handlers.devices(deviceIds);
      } else sends.push(this.publisher.spublish(this.keys.hintChannel(instance), deviceIds.join('\n')));
    }
    await Promise.all(sends);
  }

  /** Relays offers made in a script to the pod instance holding each connection; this pod's own go straight in. */
  async relay(groups: readonly RelayedOffers[]): Promise<void> {
    const byInstance = new Map<string, RelayedOffers[]>();
    for (const { reply, devices } of groups) {
      const held = new Map<string, RelayedOffers>();
      for (const device of devices) {
        let group = held.get(device.instance);
        if (!group) {
          group = { reply, devices: [] };
          held.set(device.instance, group);
          const groups = byInstance.get(device.instance) ?? [];
          groups.push(group);
          byInstance.set(device.instance, groups);
        }
        group.devices.push(device);
      }
    }
    const sends: Promise<unknown>[] = [];
    for (const [instance, held] of byInstance) {
      if (instance === this.instance) {
        this.count('offers');
        this.handlers.offers(held);
      } else
        sends.push(this.publisher.spublish(this.keys.hintChannel(instance), OFFERS + JSON.stringify(held)));
    }
    await Promise.all(sends);
  }

  async broadcast(): Promise<void> {
    await this.publisher.spublish(this.keys.broadcastChannel, '');
  }

  /** Every pod closes this device's connections (a revoked credential must not stay connected). */
  async kick(deviceId: string, code: number, reason: string): Promise<void> {
    await this.publisher.spublish(
      this.keys.broadcastChannel,
      ['kick:', String(code), deviceId, reason].join('\n'),
    );
  }

  /** A pod instance that was reaped while alive puts its devices back online. */
  async reassert(instance: string): Promise<void> {
    await this.publisher.spublish(this.keys.hintChannel(instance), REASSERT);
  }

  /** The pod instance holding an old connection of a device closes it. */
  async drop(instance: string, connectionId: string): Promise<void> {
    await this.publisher.spublish(this.keys.hintChannel(instance), `!drop:${connectionId}`);
  }
}

/** Devices (as scripts name them, with the pod instance holding each) → the devices each instance holds. */
export function byInstanceOf(
  devices: readonly { deviceId: string; instance: string }[],
): Map<string, string[]> {
  const byInstance = new Map<string, string[]>();
  for (const { deviceId, instance } of devices) {
    const held = byInstance.get(instance) ?? [];
    held.push(deviceId);
    byInstance.set(instance, held);
  }
  return byInstance;
}
