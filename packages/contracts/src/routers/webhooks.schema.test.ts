import { describe, expect, it } from 'vitest';
import { DELIVERY_STATES } from '../states.js';
import { FleetEvent } from './events.schema.js';
import {
  CreateWebhookInput,
  WEBHOOK_EVENT_TYPES,
  WebhookEventPattern,
  webhookPatternMatches,
  webhookUrlProblem,
} from './webhooks.schema.js';

describe('webhook event types', () => {
  it('are rollout.<type> for every rollout event and delivery.<state> for every delivery state, from the schemas', () => {
    const rollout = FleetEvent.options.flatMap((o) => ('type' in o.shape ? o.shape.type.options : []));
    expect(rollout).toContain('paused');
    expect(WEBHOOK_EVENT_TYPES).toEqual([
      ...rollout.map((t) => `rollout.${t}`),
      ...DELIVERY_STATES.map((s) => `delivery.${s}`),
    ]);
    expect(WEBHOOK_EVENT_TYPES).toContain('rollout.wave_opened');
    expect(WEBHOOK_EVENT_TYPES).toContain('delivery.failed');
  });

  it('accepts exact types and the wildcards, nothing else', () => {
    for (const ok of ['*', 'rollout.*', 'delivery.*', 'rollout.created', 'delivery.succeeded'])
      expect(WebhookEventPattern.safeParse(ok).success).toBe(true);
    for (const bad of ['rollout', 'rollout.nope', 'delivery.**', 'device.*', '', '*.*'])
      expect(WebhookEventPattern.safeParse(bad).success).toBe(false);
  });

  it('matches as the Lua fan-out does', () => {
    expect(webhookPatternMatches('*', 'delivery.failed')).toBe(true);
    expect(webhookPatternMatches('delivery.*', 'delivery.failed')).toBe(true);
    expect(webhookPatternMatches('rollout.*', 'delivery.failed')).toBe(false);
    expect(webhookPatternMatches('delivery.failed', 'delivery.failed')).toBe(true);
    expect(webhookPatternMatches('delivery.failed', 'delivery.queued')).toBe(false);
  });
});

describe('creating a webhook', () => {
  it('takes http(s) URLs without credentials or fragments', () => {
    expect(webhookUrlProblem('https://hooks.example.com/camfleet?x=1')).toBeNull();
    expect(webhookUrlProblem('http://203.0.113.9:8080/')).toBeNull();
    expect(webhookUrlProblem('ftp://example.com/')).toBe('only http and https URLs');
    expect(webhookUrlProblem('file:///etc/passwd')).toBe('only http and https URLs');
    expect(webhookUrlProblem('https://u:p@example.com/')).toBe('no credentials in the URL (user:password@)');
    expect(webhookUrlProblem('https://example.com/#x')).toBe('no #fragment');
    expect(webhookUrlProblem('not a url')).toBe('not a URL');
  });

  it('dedupes patterns and defaults the description', () => {
    expect(
      CreateWebhookInput.parse({ url: 'https://example.com/h', events: ['*', '*', 'rollout.*'] }),
    ).toEqual({
      url: 'https://example.com/h',
      events: ['*', 'rollout.*'],
      description: '',
    });
    expect(CreateWebhookInput.safeParse({ url: 'https://example.com/h', events: [] }).success).toBe(false);
    expect(
      CreateWebhookInput.safeParse({ url: `https://example.com/${'a'.repeat(2048)}`, events: ['*'] }).success,
    ).toBe(false);
    expect(CreateWebhookInput.safeParse({ url: 'https://example.com/\u0007', events: ['*'] }).success).toBe(
      false,
    );
  });
});
