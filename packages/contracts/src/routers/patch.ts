import { z } from 'zod';
import { adminProcedure, router } from '../trpc.js';
import {
  CreateDeltaInput,
  GetPatchInput,
  ListPatchesInput,
  Patch,
  PatchDelta,
  PatchDetail,
  PublishPatchInput,
} from './patch.schema.js';

export const patchRouter = router({
  publish: adminProcedure('operator')
    .input(PublishPatchInput)
    .output(Patch)
    .mutation(({ ctx, input }) => ctx.fleet.patches.publish(input, ctx.actor)),
  list: adminProcedure('viewer')
    .input(ListPatchesInput)
    .output(z.array(Patch))
    .query(({ ctx, input }) => ctx.fleet.patches.list(input.limit)),
  get: adminProcedure('viewer')
    .input(GetPatchInput)
    .output(PatchDetail)
    .query(({ ctx, input }) => ctx.fleet.patches.get(input.patchId)),
  /** Refused while a live rollout uses the patch. */
  delete: adminProcedure('operator')
    .input(GetPatchInput)
    .output(z.object({ patchId: z.string(), deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => ctx.fleet.patches.delete(input.patchId, ctx.actor)),
  /** Computes a binary delta from an earlier version's artifact (takes as long as compressing the image). */
  createDelta: adminProcedure('operator')
    .input(CreateDeltaInput)
    .output(PatchDelta)
    .mutation(({ ctx, input }) => ctx.fleet.patches.createDelta(input, ctx.actor)),
});
