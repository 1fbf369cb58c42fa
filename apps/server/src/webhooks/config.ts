import { z } from 'zod';
import { WEBHOOK_DEFAULTS, type WebhookSettings } from './settings.js';
import { parseCidr } from './targets.js';

const d = WEBHOOK_DEFAULTS;
const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** The webhook knobs of the pod's environment (docs/webhooks.md), part of config.ts's Env. */
export const WEBHOOK_ENV = {
  /** `1`: webhooks may go to loopback, private, link-local and unique-local addresses. */
  FLEET_WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1']).default('0'),
  /** CIDRs webhooks may reach although they are not public, comma-separated. */
  FLEET_WEBHOOK_ALLOW_CIDRS: z
    .string()
    .default('')
    .superRefine((list, ctx) => {
      for (const cidr of cidrsOf(list)) {
        try {
          parseCidr(cidr);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }
    }),
  FLEET_WEBHOOK_TIMEOUT_MS: int(100, 120_000, d.timeoutMs),
  FLEET_WEBHOOK_CONCURRENCY: int(1, 1_000, d.concurrency),
  FLEET_WEBHOOK_MAX_BACKLOG: int(1, 1_000_000, d.maxBacklog),
  FLEET_WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000, d.retry.baseMs),
  FLEET_WEBHOOK_RETRY_MAX_MS: int(10, 86_400_000, d.retry.maxMs),
  FLEET_WEBHOOK_MAX_ATTEMPTS: int(1, 1_000, d.retry.maxAttempts),
  FLEET_WEBHOOK_MAX_AGE_MS: int(1_000, 30 * 86_400_000, d.retry.maxAgeMs),
  FLEET_WEBHOOK_DISABLE_AFTER: int(1, 1_000_000, d.disableAfter),
  FLEET_WEBHOOK_POLL_MS: int(10, 60_000, d.pollMs),
};

type WebhookEnv = { [K in keyof typeof WEBHOOK_ENV]: z.infer<(typeof WEBHOOK_ENV)[K]> };

const cidrsOf = (list: string): string[] =>
  list
    .split(',')
    .map((cidr) => cidr.trim())
    .filter((cidr) => cidr !== '');

export function webhookSettingsOf(e: WebhookEnv): WebhookSettings {
  return {
    allowPrivate: e.FLEET_WEBHOOK_ALLOW_PRIVATE === '1',
    allowCidrs: cidrsOf(e.FLEET_WEBHOOK_ALLOW_CIDRS),
    timeoutMs: e.FLEET_WEBHOOK_TIMEOUT_MS,
    concurrency: e.FLEET_WEBHOOK_CONCURRENCY,
    maxBacklog: e.FLEET_WEBHOOK_MAX_BACKLOG,
    retry: {
      baseMs: e.FLEET_WEBHOOK_RETRY_BASE_MS,
      maxMs: e.FLEET_WEBHOOK_RETRY_MAX_MS,
      maxAttempts: e.FLEET_WEBHOOK_MAX_ATTEMPTS,
      maxAgeMs: e.FLEET_WEBHOOK_MAX_AGE_MS,
    },
    disableAfter: e.FLEET_WEBHOOK_DISABLE_AFTER,
    pollMs: e.FLEET_WEBHOOK_POLL_MS,
  };
}
