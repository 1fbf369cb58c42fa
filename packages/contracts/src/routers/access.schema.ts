import { z } from 'zod';
import { ADMIN_ROLES } from '../roles.js';
import { DeviceId, Labels, nameRule, StoredDeviceId, safeText, Timestamp } from '../schemas.js';
import { DeviceModel } from './device.schema.js';

export { ADMIN_ROLES };
export const AdminRoleName = z.enum(ADMIN_ROLES);

/** A device's own secret, shown once: when provisioned, enrolled or rotated. */
export const DeviceCredential = z.object({
  deviceId: StoredDeviceId,
  secret: z.string(),
});
export type DeviceCredential = z.infer<typeof DeviceCredential>;

export const ProvisionInput = z.object({
  deviceId: DeviceId,
  model: DeviceModel.default('unknown'),
  labels: Labels.default({}),
});
export type ProvisionInput = z.infer<typeof ProvisionInput>;

/** Most devices one `provisionMany` call takes (`fleet devices import` sends a file in batches). */
export const PROVISION_BATCH_MAX = 1_000;

/** Many devices at once, each as `provision` takes it; an id may appear once. */
export const ProvisionManyInput = z.object({
  devices: z
    .array(ProvisionInput)
    .min(1)
    .max(PROVISION_BATCH_MAX)
    .refine((devices) => new Set(devices.map((d) => d.deviceId)).size === devices.length, {
      message: 'a device id appears more than once',
    }),
});
export type ProvisionManyInput = z.infer<typeof ProvisionManyInput>;

/**
 * What a batch did: the devices created, each with its secret (shown once), and the ids that
 * already had a credential, left as they were (so a batch sent again changes nothing).
 */
export const ProvisionManyResult = z.object({
  created: z.array(DeviceCredential),
  existing: z.array(StoredDeviceId),
});
export type ProvisionManyResult = z.infer<typeof ProvisionManyResult>;

const Expiry = z
  .number()
  .int()
  .min(60_000)
  .max(3 * 365 * 86_400_000)
  .nullable()
  .default(null);

/** An admin or enrollment token's name (the name rule, plus `@`: `ci@build-host`). */
export const TokenName = nameRule(64, '@');

export const CreateTokenInput = z.object({
  name: TokenName,
  role: AdminRoleName,
  /** Lifetime from now; null: until revoked. */
  expiresInMs: Expiry,
});
export type CreateTokenInput = z.infer<typeof CreateTokenInput>;

export const TokenInfo = z.object({
  id: z.string(),
  name: z.string(),
  role: AdminRoleName,
  createdAt: Timestamp,
  createdBy: z.string(),
  expiresAt: Timestamp.nullable(),
  revokedAt: Timestamp.nullable(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

/** A new token: the secret is in `token`, shown this once and stored only hashed. */
export const IssuedToken = TokenInfo.extend({ token: z.string() });
export type IssuedToken = z.infer<typeof IssuedToken>;

export const CreateEnrollTokenInput = z.object({
  name: TokenName,
  /** How many devices may enroll with it; null: unlimited. */
  uses: z.number().int().min(1).max(10_000_000).nullable().default(null),
  expiresInMs: Expiry,
});
export type CreateEnrollTokenInput = z.infer<typeof CreateEnrollTokenInput>;

export const EnrollTokenInfo = z.object({
  id: z.string(),
  name: z.string(),
  usesLeft: z.number().int().nullable(),
  createdAt: Timestamp,
  createdBy: z.string(),
  expiresAt: Timestamp.nullable(),
  revokedAt: Timestamp.nullable(),
});
export type EnrollTokenInfo = z.infer<typeof EnrollTokenInfo>;
export const IssuedEnrollToken = EnrollTokenInfo.extend({ token: z.string() });
export type IssuedEnrollToken = z.infer<typeof IssuedEnrollToken>;

export const TokenIdInput = z.object({ id: z.string().regex(/^[a-z0-9]{1,40}$/, 'a token id') });

export const AuditEntry = z.object({
  id: z.string(),
  at: Timestamp,
  actor: z.string(),
  role: z.string(),
  /** The procedure, e.g. `rollout.pause`. */
  action: z.string(),
  /** The input, without secrets, shortened. */
  input: z.string(),
  ok: z.boolean(),
  error: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditInput = z
  .object({ limit: z.number().int().min(1).max(1000).default(100), actor: safeText(64).optional() })
  .default({ limit: 100 });
export type AuditInput = z.infer<typeof AuditInput>;

/** Devices' own credentials. */
export interface CredentialService {
  /** Trades an enrollment for the device's own credential; refused if the id already has one. */
  enroll(deviceId: string, enrollTokenId: string | null): Promise<DeviceCredential>;
  provision(input: ProvisionInput, actor: string): Promise<DeviceCredential>;
  /** Provisions each device that has no credential yet; the others are listed and left alone. */
  provisionMany(input: ProvisionManyInput, actor: string): Promise<ProvisionManyResult>;
  rotate(deviceId: string, actor: string): Promise<DeviceCredential>;
  /** From now on the device is refused; its open connection closes within a second. */
  revoke(deviceId: string, actor: string): Promise<{ deviceId: string; revoked: true }>;
}

/** Admin tokens issued at runtime (configured ones live in the server's configuration). */
export interface TokenService {
  create(input: CreateTokenInput, actor: string): Promise<IssuedToken>;
  list(): Promise<TokenInfo[]>;
  revoke(id: string, actor: string): Promise<TokenInfo>;
}

export interface EnrollTokenService {
  create(input: CreateEnrollTokenInput, actor: string): Promise<IssuedEnrollToken>;
  list(): Promise<EnrollTokenInfo[]>;
  revoke(id: string, actor: string): Promise<EnrollTokenInfo>;
}

export interface AuditService {
  /** Appends to the audit log (every mutating admin call). */
  record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;
  list(input: AuditInput): Promise<AuditEntry[]>;
}
