import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  AdminRole,
  AuditEntry,
  AuditInput,
  CreateEnrollTokenInput,
  CreateTokenInput,
  DeviceCredential,
  EnrollTokenInfo,
  IssuedEnrollToken,
  IssuedToken,
  ProvisionInput,
  TokenInfo,
} from '@camfleet/contracts';
import { parseReply, runScript } from '../redis/scripts.js';
import { type FleetDeps, throwPipelineErrors, unwrap } from './deps.js';

type Hash = Record<string, string>;

/** SHA-256, hex: fit for secrets with 256 bits of entropy (no password hashing needed). */
export const sha256 = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Constant-time equality of two hex digests (same length by construction). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

const secret = (): string => randomBytes(32).toString('base64url');
const tokenId = (): string => randomBytes(6).toString('hex');

/** Runtime tokens name their record: `cft_<id>_<secret>` (admin), `cfe_<id>_<secret>` (enrollment). */
export function parseIssuedToken(token: string, kind: 'cft' | 'cfe'): string | null {
  const match = new RegExp(`^${kind}_([a-f0-9]{12})_[A-Za-z0-9_-]{43}$`).exec(token);
  return match?.[1] ?? null;
}

/** Tells pods to close a device's connections (revoked or rotated credentials). */
export type Kick = (deviceId: string, code: number, reason: string) => Promise<void>;

/**
 * Credentials and tokens: device secrets (provisioned, enrolled, rotated, revoked), admin and
 * enrollment tokens issued at runtime, and the audit log. Secrets are stored only as digests and
 * returned once.
 */
export class Access {
  private kick: Kick = async () => undefined;

  constructor(private readonly deps: FleetDeps) {}

  onKick(kick: Kick): void {
    this.kick = kick;
  }

  private async credential(deviceId: string, action: string, hash: string, model = '', labels = '{}') {
    const bucket = this.deps.keys.bucketOfDevice(deviceId);
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'device_credential',
        this.deps.keys.due(bucket),
        bucket,
        deviceId,
        action,
        hash,
        model,
        labels,
      ),
    );
    return unwrap(reply, `device ${deviceId}`) as [string, string];
  }

  async enrollDevice(deviceId: string, enrollTokenId: string | null): Promise<DeviceCredential> {
    const token = enrollTokenId ? this.deps.keys.enrollToken(enrollTokenId) : null;
    if (token) unwrap(parseReply(await runScript(this.deps.redis, 'token_state', token, 1)), 'enrollment');
    const fresh = `cfd_${secret()}`;
    try {
      await this.credential(deviceId, 'enroll', sha256(fresh));
    } catch (error) {
      // The use was not spent: give it back.
      if (token) await runScript(this.deps.redis, 'token_state', token, -1);
      throw error;
    }
    return { deviceId, secret: fresh };
  }

  async provisionDevice(input: ProvisionInput, _actor: string): Promise<DeviceCredential> {
    const fresh = `cfd_${secret()}`;
    await this.credential(
      input.deviceId,
      'provision',
      sha256(fresh),
      input.model,
      JSON.stringify(input.labels),
    );
    return { deviceId: input.deviceId, secret: fresh };
  }

  async rotateDevice(deviceId: string, _actor: string): Promise<DeviceCredential> {
    const fresh = `cfd_${secret()}`;
    await this.credential(deviceId, 'rotate', sha256(fresh));
    await this.kick(deviceId, 4001, 'credentials rotated');
    return { deviceId, secret: fresh };
  }

  async revokeDevice(deviceId: string, _actor: string): Promise<{ deviceId: string; revoked: true }> {
    await this.credential(deviceId, 'revoke', '');
    await this.kick(deviceId, 4001, 'credentials revoked');
    return { deviceId, revoked: true };
  }

  private async now(): Promise<number> {
    const [seconds, micros] = await this.deps.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** Writes a new token record and its index entry in one transaction. */
  private async issue(
    key: string,
    index: string,
    id: string,
    fields: Record<string, string | number>,
  ): Promise<void> {
    throwPipelineErrors(
      await this.deps.redis.multi().hset(key, fields).zadd(index, Number(fields.createdAt), id).exec(),
    );
  }

  async createToken(input: CreateTokenInput, actor: string): Promise<IssuedToken> {
    const id = tokenId();
    const token = `cft_${id}_${secret()}`;
    const now = await this.now();
    const expiresAt = input.expiresInMs === null ? 0 : now + input.expiresInMs;
    await this.issue(this.deps.keys.adminToken(id), this.deps.keys.adminTokens, id, {
      id,
      name: input.name,
      role: input.role,
      hash: sha256(token),
      createdAt: now,
      createdBy: actor,
      expiresAt,
      revokedAt: 0,
    });
    return {
      ...tokenInfo({
        id,
        name: input.name,
        role: input.role,
        createdAt: String(now),
        createdBy: actor,
        expiresAt: String(expiresAt),
      }),
      token,
    };
  }

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.listRecords(this.deps.keys.adminTokens, (id) => this.deps.keys.adminToken(id))).map(
      tokenInfo,
    );
  }

  async revokeToken(id: string, _actor: string): Promise<TokenInfo> {
    return tokenInfo(await this.revokeRecord(this.deps.keys.adminToken(id), 'token'));
  }

  async createEnrollToken(input: CreateEnrollTokenInput, actor: string): Promise<IssuedEnrollToken> {
    const id = tokenId();
    const token = `cfe_${id}_${secret()}`;
    const now = await this.now();
    const expiresAt = input.expiresInMs === null ? 0 : now + input.expiresInMs;
    const usesLeft = input.uses === null ? '' : String(input.uses);
    await this.issue(this.deps.keys.enrollToken(id), this.deps.keys.enrollTokens, id, {
      id,
      name: input.name,
      hash: sha256(token),
      usesLeft,
      createdAt: now,
      createdBy: actor,
      expiresAt,
      revokedAt: 0,
    });
    return {
      ...enrollTokenInfo({
        id,
        name: input.name,
        usesLeft,
        createdAt: String(now),
        createdBy: actor,
        expiresAt: String(expiresAt),
      }),
      token,
    };
  }

  async listEnrollTokens(): Promise<EnrollTokenInfo[]> {
    return (await this.listRecords(this.deps.keys.enrollTokens, (id) => this.deps.keys.enrollToken(id))).map(
      enrollTokenInfo,
    );
  }

  async revokeEnrollToken(id: string, _actor: string): Promise<EnrollTokenInfo> {
    return enrollTokenInfo(await this.revokeRecord(this.deps.keys.enrollToken(id), 'enrollment token'));
  }

  private async listRecords(index: string, keyOf: (id: string) => string): Promise<Hash[]> {
    const ids = await this.deps.redis.zrange(index, 0, '-1');
    return Promise.all(ids.map((id) => this.deps.redis.hgetall(keyOf(id))));
  }

  private async revokeRecord(key: string, what: string): Promise<Hash> {
    const values = unwrap(
      parseReply(await runScript(this.deps.redis, 'token_revoke', key)),
      what,
    ) as string[];
    const hash: Hash = {};
    for (let i = 0; i < values.length; i += 2) hash[values[i] ?? ''] = values[i + 1] ?? '';
    return hash;
  }

  /**
   * A runtime token's stored digest (and name and role), if the token exists, is live and
   * (for enrollment tokens) has uses left. The caller compares digests in constant time.
   */
  async tokenRecord(key: string): Promise<{ hash: string; name: string; role: string } | null> {
    const reply = parseReply(await runScript(this.deps.redis, 'token_state', key, 0));
    if (!reply.ok) return null;
    const [hash, name, role] = reply.values as [string, string, string];
    return { hash, name, role };
  }

  async recordAudit(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.deps.redis.xadd(
      this.deps.keys.audit,
      'MAXLEN',
      '~',
      100_000,
      '*',
      'actor',
      entry.actor,
      'role',
      entry.role,
      'action',
      entry.action,
      'input',
      entry.input,
      'ok',
      entry.ok ? '1' : '0',
      'error',
      entry.error ?? '',
    );
  }

  async listAudit(input: AuditInput): Promise<AuditEntry[]> {
    const scan = input.actor ? input.limit * 10 : input.limit;
    const entries = (await this.deps.redis.xrevrange(
      this.deps.keys.audit,
      '+',
      '-',
      'COUNT',
      String(scan),
    )) as [string, string[]][];
    return entries
      .map(([id, fields]) => auditEntry(id, fields))
      .filter((e) => !input.actor || e.actor === input.actor)
      .slice(0, input.limit)
      .reverse();
  }
}

const time = (value: string | undefined): number | null => (value && value !== '0' ? Number(value) : null);

function tokenInfo(h: Hash): TokenInfo {
  return {
    id: h.id ?? '',
    name: h.name ?? '',
    role: (h.role ?? 'viewer') as AdminRole,
    createdAt: Number(h.createdAt ?? 0),
    createdBy: h.createdBy ?? '',
    expiresAt: time(h.expiresAt),
    revokedAt: time(h.revokedAt),
  };
}

function enrollTokenInfo(h: Hash): EnrollTokenInfo {
  return {
    id: h.id ?? '',
    name: h.name ?? '',
    usesLeft: h.usesLeft ? Number(h.usesLeft) : null,
    createdAt: Number(h.createdAt ?? 0),
    createdBy: h.createdBy ?? '',
    expiresAt: time(h.expiresAt),
    revokedAt: time(h.revokedAt),
  };
}

function auditEntry(id: string, fields: string[]): AuditEntry {
  const f: Hash = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i] ?? ''] = fields[i + 1] ?? '';
  return {
    id,
    at: Number(id.split('-')[0]),
    actor: f.actor ?? '',
    role: f.role ?? '',
    action: f.action ?? '',
    input: f.input ?? '',
    ok: f.ok === '1',
    error: f.error || null,
  };
}
