import { z } from 'zod';
import { adminProcedure, holdSubscription, router } from '../trpc.js';
import {
  CreateRolloutInput,
  ListRolloutsInput,
  RolloutActionInput,
  RolloutIdInput,
  RolloutStatus,
  WatchRolloutInput,
  WatchRolloutsInput,
} from './rollout.schema.js';

export const rolloutRouter = router({
  create: adminProcedure('operator')
    .input(CreateRolloutInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.createRollout(input, ctx.actor)),
  list: adminProcedure('viewer')
    .input(ListRolloutsInput)
    .output(z.array(RolloutStatus))
    .query(({ ctx, input }) => ctx.fleet.listRollouts(input.limit)),
  get: adminProcedure('viewer')
    .input(RolloutIdInput)
    .output(RolloutStatus)
    .query(({ ctx, input }) => ctx.fleet.getRollout(input.rolloutId)),
  cancel: adminProcedure('operator')
    .input(RolloutActionInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.cancelRollout(input.rolloutId, ctx.actor, input.reason)),
  pause: adminProcedure('operator')
    .input(RolloutActionInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.pauseRollout(input.rolloutId, ctx.actor, input.reason)),
  resume: adminProcedure('operator')
    .input(RolloutIdInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.resumeRollout(input.rolloutId, ctx.actor)),
  advance: adminProcedure('operator')
    .input(RolloutIdInput)
    .output(RolloutStatus)
    .mutation(({ ctx, input }) => ctx.fleet.advanceRollout(input.rolloutId, ctx.actor)),
  /** The rollouts list, live: the newest now, then again whenever one of them changes. */
  watchList: adminProcedure('viewer')
    .input(WatchRolloutsInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const release = holdSubscription(ctx.connection);
      try {
        yield* ctx.fleet.watchRollouts(input.limit, input.intervalMs, signal ?? new AbortController().signal);
      } finally {
        release();
      }
    }),
  /** Live status: a snapshot now, then one whenever the counts change. */
  watch: adminProcedure('viewer')
    .input(WatchRolloutInput)
    .subscription(async function* ({ ctx, input, signal }) {
      const release = holdSubscription(ctx.connection);
      try {
        yield* ctx.fleet.watchRollout(
          input.rolloutId,
          input.intervalMs,
          signal ?? new AbortController().signal,
        );
      } finally {
        release();
      }
    }),
});
