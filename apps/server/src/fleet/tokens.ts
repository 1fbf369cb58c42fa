import type {
  AdminRole,
  CreateEnrollTokenInput,
  CreateTokenInput,
  EnrollTokenInfo,
  EnrollTokenService,
  IssuedEnrollToken,
  IssuedToken,
  TokenInfo,
  TokenService,
} from '@camfleet/contracts';
import { pipelineValues } from '../redis/pipeline.js';
import { tokenRevoke, tokenState } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { type IssuedKind, issueToken, sha256 } from './secrets.js';

type Hash = Record<string, string>;

/** A live runtime token's stored digest, name and role; the caller compares digests in constant time. */
export interface TokenRecord {
  hash: string;
  name: string;
  role: string;
}

/**
 * Token records in Redis: a hash per token (its digest, never the token) and an index by creation
 * time. Shared by admin and enrollment tokens.
 */
class TokenRecords {
  constructor(
    protected readonly deps: FleetDeps,
    private readonly keyOf: (id: string) => string,
    private readonly index: string,
    private readonly what: string,
  ) {}

  protected async now(): Promise<number> {
    const [seconds, micros] = await this.deps.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /**
   * Issues a new token of `kind`: its record (the digest, never the token, plus `fields`) and its index
   * entry in one transaction. The record's fields, as strings, and the token (shown once).
   */
  protected async issue(
    kind: IssuedKind,
    actor: string,
    expiresInMs: number | null,
    fields: Record<string, string>,
  ): Promise<{ record: Hash; token: string }> {
    const { id, token } = issueToken(kind);
    const now = await this.now();
    const record: Hash = {
      id,
      ...fields,
      createdAt: String(now),
      createdBy: actor,
      expiresAt: String(expiresInMs === null ? 0 : now + expiresInMs),
      revokedAt: '0',
    };
    pipelineValues(
      await this.deps.redis
        .multi()
        .hset(this.keyOf(id), { ...record, hash: sha256(token) })
        .zadd(this.index, now, id)
        .exec(),
    );
    return { record, token };
  }

  protected async records(): Promise<Hash[]> {
    const ids = await this.deps.redis.zrange(this.index, 0, '-1');
    return Promise.all(ids.map((id) => this.deps.redis.hgetall(this.keyOf(id))));
  }

  protected revokeRecord(id: string): Promise<Hash> {
    return this.deps.scripts.run(tokenRevoke, { key: this.keyOf(id), what: this.what });
  }

  /** The token's record if it exists and is live (enrollment: has uses left); `take` spends or returns a use. */
  lookup(id: string, take: -1 | 0 | 1 = 0): Promise<TokenRecord | null> {
    return this.deps.scripts.run(tokenState, { key: this.keyOf(id), take });
  }
}

const time = (value: string | undefined): number | null => (value && value !== '0' ? Number(value) : null);

/** Admin tokens issued at runtime (configured ones live in the server's configuration). */
export class AdminTokens extends TokenRecords implements TokenService {
  constructor(deps: FleetDeps) {
    super(deps, (id) => deps.keys.adminToken(id), deps.keys.adminTokens, 'token');
  }

  async create(input: CreateTokenInput, actor: string): Promise<IssuedToken> {
    const { record, token } = await this.issue('cft', actor, input.expiresInMs, {
      name: input.name,
      role: input.role,
    });
    return { ...tokenInfo(record), token };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.records()).map(tokenInfo);
  }

  async revoke(id: string, _actor: string): Promise<TokenInfo> {
    return tokenInfo(await this.revokeRecord(id));
  }
}

/** Enrollment tokens issued at runtime: a device trades one (a use of it) for its own secret. */
export class EnrollTokens extends TokenRecords implements EnrollTokenService {
  constructor(deps: FleetDeps) {
    super(deps, (id) => deps.keys.enrollToken(id), deps.keys.enrollTokens, 'enrollment token');
  }

  async create(input: CreateEnrollTokenInput, actor: string): Promise<IssuedEnrollToken> {
    const usesLeft = input.uses === null ? '' : String(input.uses);
    const { record, token } = await this.issue('cfe', actor, input.expiresInMs, {
      name: input.name,
      usesLeft,
    });
    return { ...enrollTokenInfo(record), token };
  }

  async list(): Promise<EnrollTokenInfo[]> {
    return (await this.records()).map(enrollTokenInfo);
  }

  async revoke(id: string, _actor: string): Promise<EnrollTokenInfo> {
    return enrollTokenInfo(await this.revokeRecord(id));
  }
}

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
