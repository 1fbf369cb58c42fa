import { z } from 'zod';
import { adminProcedure, router } from '../trpc.js';
import {
  CreatedWebhook,
  CreateWebhookInput,
  WebhookDeliveriesInput,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookIdInput,
  WebhookTestResult,
} from './webhooks.schema.js';

/** Webhook endpoints: the fleet's events POSTed to operators' URLs (admin role; changes are audited). */
export const webhooksRouter = router({
  create: adminProcedure('admin')
    .input(CreateWebhookInput)
    .output(CreatedWebhook)
    .mutation(({ ctx, input }) => ctx.fleet.webhooks.create(input, ctx.actor)),
  list: adminProcedure('admin')
    .output(z.array(WebhookEndpoint))
    .query(({ ctx }) => ctx.fleet.webhooks.list()),
  get: adminProcedure('admin')
    .input(WebhookIdInput)
    .output(WebhookEndpoint)
    .query(({ ctx, input }) => ctx.fleet.webhooks.get(input.id)),
  delete: adminProcedure('admin')
    .input(WebhookIdInput)
    .output(WebhookEndpoint)
    .mutation(({ ctx, input }) => ctx.fleet.webhooks.delete(input.id, ctx.actor)),
  enable: adminProcedure('admin')
    .input(WebhookIdInput)
    .output(WebhookEndpoint)
    .mutation(({ ctx, input }) => ctx.fleet.webhooks.enable(input.id, ctx.actor)),
  deliveries: adminProcedure('admin')
    .input(WebhookDeliveriesInput)
    .output(z.array(WebhookDelivery))
    .query(({ ctx, input }) => ctx.fleet.webhooks.deliveries(input)),
  test: adminProcedure('admin')
    .input(WebhookIdInput)
    .output(WebhookTestResult)
    .mutation(({ ctx, input }) => ctx.fleet.webhooks.test(input.id, ctx.actor)),
});
