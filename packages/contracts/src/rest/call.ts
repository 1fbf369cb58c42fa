/**
 * One REST call: the operation's procedure, called through the router exactly as tRPC's own HTTP
 * handler calls it (`callTRPCProcedure`: the same middlewares, so the same role check, input
 * validation and audit entry), with the context the pod builds for any HTTP request.
 */
import { callTRPCProcedure, getTRPCErrorFromUnknown } from '@trpc/server';
import { appRouter } from '../router.js';
import type { FleetContext } from '../services.js';
import { type RestAnswer, restError } from './errors.js';
import { type RestRequest, restInput } from './input.js';
import type { RestOperation } from './routes.js';

/** Calls the operation; a refusal or failure is answered as an error body, never thrown. */
export async function callRest(
  op: RestOperation,
  ctx: FleetContext,
  request: RestRequest,
  signal?: AbortSignal,
): Promise<RestAnswer> {
  // Read once: the audit middleware asks for the input again.
  let input: Promise<unknown> | null = null;
  try {
    const data: unknown = await callTRPCProcedure({
      router: appRouter,
      path: op.procedure,
      type: op.type,
      ctx,
      getRawInput: () => {
        input ??= restInput(op, request);
        return input;
      },
      signal,
      batchIndex: 0,
    });
    return { status: op.status, body: data ?? null, headers: {} };
  } catch (cause) {
    return restError(getTRPCErrorFromUnknown(cause), { path: op.procedure, type: op.type });
  }
}
