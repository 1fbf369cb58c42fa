import { z } from 'zod';
import { adminProcedure, holdingSubscription, router } from '../trpc.js';
import { PreviewTargetInput, TargetPreview } from './devices.schema.js';
import {
  CreateRolloutInput,
  ListRolloutsInput,
  RolloutActionInput,
  RolloutHistory,
  RolloutIdInput,
  RolloutStatus,
  WatchRolloutInput,
  WatchRolloutsInput,
} from './rollout.schema.js';

export const rolloutRouter = router({
  create: adminProcedure('operator')
    .input(CreateRolloutInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.rollouts.create(input, ctx.actor)),
  /** What a target would name now (how many devices, online, their firmware), before creating the rollout. */
  preview: adminProcedure('viewer')
    .input(PreviewTargetInput)
    .output(TargetPreview)
    .query(({ ctx, input }) => ctx.fleet.inventory.preview(input.target)),
  list: adminProcedure('viewer')
    .input(ListRolloutsInput)
    .output(z.array(RolloutStatus))
    .query(({ ctx, input }) => ctx.fleet.rollouts.list(input.limit)),
  get: adminProcedure('viewer')
    .input(RolloutIdInput)
    .output(RolloutStatus)
    .query(({ ctx, input }) => ctx.fleet.rollouts.get(input.rolloutId)),
  history: adminProcedure('viewer')
    .input(RolloutIdInput)
    .output(RolloutHistory)
    .query(({ ctx, input }) => ctx.fleet.rollouts.history(input.rolloutId)),
  cancel: adminProcedure('operator')
    .input(RolloutActionInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.rollouts.cancel(input.rolloutId, ctx.actor, input.reason)),
  pause: adminProcedure('operator')
    .input(RolloutActionInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.rollouts.pause(input.rolloutId, ctx.actor, input.reason)),
  resume: adminProcedure('operator')
    .input(RolloutIdInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.rollouts.resume(input.rolloutId, ctx.actor)),
  advance: adminProcedure('operator')
    .input(RolloutIdInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.rollouts.advance(input.rolloutId, ctx.actor)),
  /** The rollouts list, live: the newest now, then again whenever one of them changes. */
  watchList: adminProcedure('viewer')
    .input(WatchRolloutsInput)
    .subscription(({ ctx, input, signal }) =>
      holdingSubscription(
        ctx.connection,
        (stop) => ctx.fleet.rollouts.watchList(input.limit, input.intervalMs, stop),
        signal,
      ),
    ),
  /** Live status: a snapshot now, then one whenever the counts change. */
  watch: adminProcedure('viewer')
    .input(WatchRolloutInput)
    .subscription(({ ctx, input, signal }) =>
      holdingSubscription(
        ctx.connection,
        (stop) => ctx.fleet.rollouts.watch(input.rolloutId, input.intervalMs, stop),
        signal,
      ),
    ),
});
