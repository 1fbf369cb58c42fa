import { randomBytes } from 'node:crypto';
import {
  type CreatedWebhook,
  type CreateWebhookInput,
  FleetError,
  WEBHOOK_PING_TYPE,
  type WebhookDeliveriesInput,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookService,
  type WebhookTestResult,
} from '@camfleet/contracts';
import type { FleetDeps } from '../fleet/deps.js';
import { webhookCreate, webhookDelete, webhookEnable } from '../redis/scripts/index.js';
import { pingPayload } from './payload.js';
import { postWebhook } from './post.js';
import { deliveryOf, endpointOf } from './records.js';
import { MAX_ENDPOINTS, WEBHOOK_DEFAULTS, type WebhookSettings } from './settings.js';
import { webhookHeaders } from './signature.js';
import { TargetPolicy } from './targets.js';

/** A new endpoint's signing secret: 256 random bits. */
const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * Webhook endpoints and their delivery logs, in Redis (`{g}`): what `fleet webhook …` manages. The
 * sending itself is the pods' loops (WebhookLoops); `test` alone sends, at once, from this pod.
 */
export class WebhookEndpoints implements WebhookService {
  readonly settings: WebhookSettings;
  readonly policy: TargetPolicy;

  constructor(
    private readonly deps: FleetDeps,
    settings: WebhookSettings = deps.webhooks ?? WEBHOOK_DEFAULTS,
    policy?: TargetPolicy,
  ) {
    this.settings = settings;
    this.policy = policy ?? new TargetPolicy(settings);
  }

  private key(id: string): string {
    return this.deps.keys.webhook('endpoint', id);
  }

  async create(input: CreateWebhookInput, actor: string): Promise<CreatedWebhook> {
    const target = await this.policy.resolve(new URL(input.url).hostname);
    if (!target.ok) throw new FleetError('INVALID_INPUT', `webhook URL refused: ${target.reason}`);
    const id = `wh_${randomBytes(8).toString('hex')}`;
    const secret = newWebhookSecret();
    const { createdAt } = await this.deps.scripts.run(webhookCreate, {
      id,
      url: input.url,
      events: input.events,
      description: input.description,
      secret,
      actor,
      maxEndpoints: MAX_ENDPOINTS,
    });
    this.deps.log.info({ webhookId: id, events: input.events, actor }, 'webhook endpoint created');
    return {
      ...endpointOf(
        { id, url: input.url, events: input.events.join(','), description: input.description, enabled: '1' },
        0,
        this.settings.maxBacklog,
      ),
      createdAt,
      createdBy: actor,
      secret,
    };
  }

  async list(): Promise<WebhookEndpoint[]> {
    const ids = await this.deps.redis.zrange(this.deps.keys.webhook('endpoints'), 0, '-1');
    const found = await Promise.all(ids.map((id) => this.find(id)));
    return found.filter((e): e is WebhookEndpoint => e !== null);
  }

  async get(id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.find(id);
    if (!endpoint) throw notFound(id);
    return endpoint;
  }

  private async find(id: string): Promise<WebhookEndpoint | null> {
    const { redis, keys } = this.deps;
    const [fields, backlog] = await Promise.all([
      redis.hgetall(this.key(id)),
      redis.zcard(keys.webhook('pending', id)),
    ]);
    return fields.id ? endpointOf(fields, backlog, this.settings.maxBacklog) : null;
  }

  async delete(id: string, actor: string): Promise<WebhookEndpoint> {
    const fields = await this.deps.scripts.run(webhookDelete, { id });
    this.deps.log.info({ webhookId: id, actor }, 'webhook endpoint deleted');
    return endpointOf(fields, Number(fields.backlog ?? 0), this.settings.maxBacklog);
  }

  async enable(id: string, actor: string): Promise<WebhookEndpoint> {
    const resumed = await this.deps.scripts.run(webhookEnable, { id });
    this.deps.log.info({ webhookId: id, actor, resumed }, 'webhook endpoint enabled');
    return this.get(id);
  }

  async deliveries(input: WebhookDeliveriesInput): Promise<WebhookDelivery[]> {
    const { redis, keys } = this.deps;
    const [exists, pending, finished] = await Promise.all([
      redis.exists(this.key(input.id)),
      redis.zrevrange(keys.webhook('pending', input.id), 0, input.limit - 1),
      redis.zrevrange(keys.webhook('log', input.id), 0, input.limit - 1),
    ]);
    if (exists === 0) throw notFound(input.id);
    const due = keys.webhook('due');
    const all = await Promise.all(
      [...pending, ...finished].map(async (eventId) => {
        const [fields, score] = await Promise.all([
          redis.hgetall(keys.webhook('delivery', input.id, eventId)),
          redis.zscore(due, `${input.id}/${eventId}`),
        ]);
        return fields.event ? deliveryOf(input.id, fields, score === null ? null : Number(score)) : null;
      }),
    );
    return all
      .filter((d): d is WebhookDelivery => d !== null)
      .sort((a, b) => b.createdAt - a.createdAt || (a.eventId < b.eventId ? 1 : -1))
      .slice(0, input.limit);
  }

  /** Sends one ping now, signed like every event; not queued, not retried, not counted as a failure. */
  async test(id: string, actor: string): Promise<WebhookTestResult> {
    const [url, secret] = await this.deps.redis.hmget(this.key(id), 'url', 'secret');
    if (!url || !secret) throw notFound(id);
    const [seconds, micros] = await this.deps.redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const eventId = `ping_${randomBytes(8).toString('hex')}`;
    const body = JSON.stringify(pingPayload(eventId, id, now));
    const started = Date.now();
    const outcome = await postWebhook({
      url,
      body,
      headers: webhookHeaders({
        secret,
        type: WEBHOOK_PING_TYPE,
        deliveryId: `${id}/${eventId}`,
        attempt: 1,
        timestampSeconds: Math.floor(now / 1000),
        body,
      }),
      timeoutMs: this.settings.timeoutMs,
      policy: this.policy,
    });
    const result: WebhookTestResult = {
      eventId,
      ok: outcome.ok,
      status: outcome.status,
      error: outcome.ok ? null : outcome.error,
      durationMs: Date.now() - started,
    };
    this.deps.log.info({ webhookId: id, actor, ok: result.ok, status: result.status }, 'webhook test sent');
    return result;
  }

  /** For the metrics: deliveries waiting, over every endpoint, and endpoints disabled. */
  async summary(): Promise<{ backlog: number; disabled: number }> {
    const { redis, keys } = this.deps;
    const ids = await redis.zrange(keys.webhook('endpoints'), 0, '-1');
    const each = await Promise.all(
      ids.map(async (id) => {
        const [backlog, enabled] = await Promise.all([
          redis.zcard(keys.webhook('pending', id)),
          redis.hget(this.key(id), 'enabled'),
        ]);
        return { backlog, disabled: enabled === '0' ? 1 : 0 };
      }),
    );
    return {
      backlog: each.reduce((sum, e) => sum + e.backlog, 0),
      disabled: each.reduce((sum, e) => sum + e.disabled, 0),
    };
  }
}

const notFound = (id: string) =>
  new FleetError('NOT_FOUND', `no webhook ${id}: fleet webhook list shows them`);
