import { z } from 'zod';
import { adminProcedure, enrolleeProcedure, router } from '../trpc.js';
import {
  AdminRoleName,
  AuditEntry,
  AuditInput,
  CreateEnrollTokenInput,
  CreateTokenInput,
  DeviceCredential,
  EnrollTokenInfo,
  IssuedEnrollToken,
  IssuedToken,
  ProvisionInput,
  ProvisionManyInput,
  ProvisionManyResult,
  TokenIdInput,
  TokenInfo,
} from './access.schema.js';
import { DeviceIdInput } from './devices.schema.js';

/** A device that presented an enrollment token trades it for its own credential, once. */
export const enrollProcedure = enrolleeProcedure
  .output(DeviceCredential)
  .mutation(({ ctx }) => ctx.fleet.credentials.enroll(ctx.deviceId, ctx.enrollTokenId));

/** Device credentials, managed by admins. */
export const credentialsRouter = router({
  provision: adminProcedure('admin')
    .input(ProvisionInput)
    .output(DeviceCredential)
    .mutation(({ ctx, input }) => ctx.fleet.credentials.provision(input, ctx.actor)),
  provisionMany: adminProcedure('admin')
    .input(ProvisionManyInput)
    .output(ProvisionManyResult)
    .mutation(({ ctx, input }) => ctx.fleet.credentials.provisionMany(input, ctx.actor)),
  rotate: adminProcedure('admin')
    .input(DeviceIdInput)
    .output(DeviceCredential)
    .mutation(({ ctx, input }) => ctx.fleet.credentials.rotate(input.deviceId, ctx.actor)),
  revoke: adminProcedure('admin')
    .input(DeviceIdInput)
    .output(z.object({ deviceId: z.string(), revoked: z.literal(true) }))
    .mutation(({ ctx, input }) => ctx.fleet.credentials.revoke(input.deviceId, ctx.actor)),
});

/** Admin tokens issued at runtime (configured ones live in the server's configuration). */
export const tokensRouter = router({
  /** Who the presented token is: its name and role (any role may ask; UIs show what the role allows). */
  whoami: adminProcedure('viewer')
    .output(z.object({ name: z.string(), role: AdminRoleName }))
    .query(({ ctx }) =>
      ctx.principal.kind === 'admin'
        ? { name: ctx.principal.name, role: ctx.principal.role }
        : { name: ctx.actor, role: 'viewer' as const },
    ),
  create: adminProcedure('admin')
    .input(CreateTokenInput)
    .output(IssuedToken)
    .mutation(({ ctx, input }) => ctx.fleet.tokens.create(input, ctx.actor)),
  list: adminProcedure('admin')
    .output(z.array(TokenInfo))
    .query(({ ctx }) => ctx.fleet.tokens.list()),
  revoke: adminProcedure('admin')
    .input(TokenIdInput)
    .output(TokenInfo)
    .mutation(({ ctx, input }) => ctx.fleet.tokens.revoke(input.id, ctx.actor)),
});

export const enrollTokensRouter = router({
  create: adminProcedure('admin')
    .input(CreateEnrollTokenInput)
    .output(IssuedEnrollToken)
    .mutation(({ ctx, input }) => ctx.fleet.enrollTokens.create(input, ctx.actor)),
  list: adminProcedure('admin')
    .output(z.array(EnrollTokenInfo))
    .query(({ ctx }) => ctx.fleet.enrollTokens.list()),
  revoke: adminProcedure('admin')
    .input(TokenIdInput)
    .output(EnrollTokenInfo)
    .mutation(({ ctx, input }) => ctx.fleet.enrollTokens.revoke(input.id, ctx.actor)),
});

export const auditRouter = router({
  list: adminProcedure('admin')
    .input(AuditInput)
    .output(z.array(AuditEntry))
    .query(({ ctx, input }) => ctx.fleet.audit.list(input)),
});
