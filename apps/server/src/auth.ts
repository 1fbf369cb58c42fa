import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import {
  type AdminRole,
  DeviceId,
  LimitRefused,
  type Principal,
  refusalError,
  roleAtLeast,
} from '@camfleet/contracts';
import type { RedisClient } from '@camfleet/redis';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AuthThrottle, CredentialKind, LoginAttempt } from './auth-throttle.js';
import { parseIssuedToken, sameDigest, sha256 } from './fleet/secrets.js';
import type { AdminTokens, EnrollTokens } from './fleet/tokens.js';
import type { KeySpace } from './redis/keys.js';

/** Tokens configured at deploy time (a file or a Kubernetes Secret), stored as SHA-256 digests. */
export const ConfiguredTokens = z.array(
  z.object({
    name: z.string().min(1).max(64),
    role: z.enum(['viewer', 'operator', 'admin']),
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
  }),
);
export type ConfiguredToken = z.infer<typeof ConfiguredTokens>[number];

export function readTokensFile(path: string): ConfiguredToken[] {
  return ConfiguredTokens.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** Where a device that just authenticated is connected already (to replace that connection). */
export interface DeviceAuth {
  principal: Principal;
  previous: { node: string; connectionId: string } | null;
}

/**
 * One answer for every credential failure: no oracle for which device ids exist. The `reason` is
 * for the pod's own log only; it never reaches the client and never holds a secret.
 */
export class CredentialsRefused extends TRPCError {
  constructor(readonly reason: string) {
    super({ code: 'UNAUTHORIZED', message: 'credentials refused' });
  }
}
const refused = (reason: string): CredentialsRefused => new CredentialsRefused(reason);

/**
 * Checks credentials. Every secret is compared as a SHA-256 digest in constant time; none is kept
 * in memory or Redis in the clear, and none is logged.
 */
export class Authenticator {
  private readonly enrollDigest: string | null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly issued: { tokens: AdminTokens; enrollTokens: EnrollTokens },
    private readonly adminTokens: ConfiguredToken[],
    enrollToken: string | null,
    /** Failed logins per address and (address, identity), shared by the pods; none in some tests. */
    private readonly throttle: AuthThrottle | null = null,
  ) {
    this.enrollDigest = enrollToken ? sha256(enrollToken) : null;
  }

  /**
   * Runs one credential check under the failed-login throttle: refused at once (TOO_MANY_REQUESTS,
   * with Retry-After) while the address or the pair is throttled; a refusal is counted and audited.
   */
  private async throttled<T>(attempt: LoginAttempt, verify: () => Promise<T>): Promise<T> {
    if (this.throttle) {
      try {
        await this.throttle.check(attempt);
      } catch (error) {
        if (error instanceof LimitRefused) throw refusalError(error);
        throw error;
      }
    }
    try {
      return await verify();
    } catch (error) {
      if (error instanceof CredentialsRefused) await this.throttle?.failed(attempt, error.reason);
      throw error;
    }
  }

  /** An admin principal for a token, or null when it is unknown, expired or revoked. */
  async admin(token: string | undefined): Promise<Principal | null> {
    if (!token) return null;
    const digest = sha256(token);
    let match: ConfiguredToken | undefined;
    for (const configured of this.adminTokens) {
      if (sameDigest(digest, configured.sha256)) match = configured;
    }
    if (match) return { kind: 'admin', name: match.name, role: match.role };
    const id = parseIssuedToken(token, 'cft');
    const record = id ? await this.issued.tokens.lookup(id) : null;
    if (record && sameDigest(digest, record.hash)) {
      return { kind: 'admin', name: record.name, role: record.role as AdminRole };
    }
    return null;
  }

  /**
   * An HTTP request's admin, from `Authorization: Bearer <token>` (tRPC over HTTP, uploads, and every
   * other admin route). No or bad token: anonymous (procedures then refuse).
   */
  async fromRequest(req: IncomingMessage, address: string): Promise<Principal> {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return { kind: 'anonymous' };
    const attempt: LoginAttempt = { address, identity: 'admin token', kind: 'admin_token' };
    return this.throttled(attempt, async () => {
      const principal = await this.admin(token);
      if (!principal) throw refused('admin token unknown, expired or revoked');
      return principal;
    }).catch((error: unknown) => {
      if (error instanceof CredentialsRefused) return { kind: 'anonymous' } as const;
      throw error;
    });
  }

  /**
   * HTTP downloads: `Authorization: Device <deviceId>:<secret>`. The device id, or null when the
   * credentials are missing or refused (one answer for both).
   */
  async deviceFromAuthorization(header: string | undefined, address: string): Promise<string | null> {
    const match = header ? /^Device ([^:\s]+):(\S+)$/.exec(header) : null;
    const id = DeviceId.safeParse(match?.[1]);
    const secret = match?.[2];
    if (!secret || !id.success) return null;
    const attempt: LoginAttempt = { address, identity: `device:${id.data}`, kind: 'artifact_device' };
    return this.throttled(attempt, async () => {
      const [stored, revoked] = await this.redis.hmget(this.keys.device(id.data), 'secret', 'revoked');
      if (!stored || revoked === '1' || !sameDigest(sha256(secret), stored))
        throw refused('device credentials refused for a download');
      return id.data;
    }).catch((error: unknown) => {
      if (error instanceof CredentialsRefused) return null;
      throw error;
    });
  }

  /**
   * hawkBit DDI: `Authorization: TargetToken <secret>` for the controller (device) `deviceId`, or
   * `GatewayToken <token>` (an admin token of role operator or more, for a gateway acting for its
   * devices). The device id, or null when refused (one answer for every reason).
   */
  async ddiDevice(deviceId: string, header: string | undefined, address: string): Promise<string | null> {
    const match = /^(TargetToken|GatewayToken) (\S+)$/.exec(header ?? '');
    const id = DeviceId.safeParse(deviceId);
    if (!id.success) return null;
    const token = match?.[2] ?? '';
    const gateway = match?.[1] === 'GatewayToken';
    const attempt: LoginAttempt = gateway
      ? { address, identity: 'admin token', kind: 'admin_token' }
      : { address, identity: `device:${id.data}`, kind: 'device_secret' };
    return this.throttled(attempt, async () => {
      if (gateway) {
        const admin = await this.admin(token);
        if (admin?.kind !== 'admin' || !roleAtLeast(admin.role, 'operator'))
          throw refused('gateway token unknown or below operator');
        return id.data;
      }
      // A poll without a token is a failed login too: counted, audited, throttled.
      if (!token) throw refused('no target token');
      const { stored, revoked } = await this.credentialOf(id.data);
      if (!stored || revoked || !sameDigest(sha256(token), stored)) throw refused('wrong target token');
      return id.data;
    }).catch((error: unknown) => {
      if (error instanceof CredentialsRefused) return null;
      throw error;
    });
  }

  /**
   * A camera of the original system, which has no credential (the gateway already checked its
   * allow-list and token). An id with a credential of its own belongs to a camera on the typed
   * protocol: the legacy door must not let anyone take it over.
   */
  async legacyDevice(deviceId: string): Promise<DeviceAuth> {
    const { stored, revoked, previous } = await this.credentialOf(deviceId);
    if (stored || revoked) throw refused('the device has its own credential: it must use the typed protocol');
    return { principal: { kind: 'device', deviceId }, previous };
  }

  /** A device's stored credential digest, whether it is revoked, and the connection it holds now. */
  private async credentialOf(deviceId: string) {
    const [stored, revoked, node, conn] = await this.redis.hmget(
      this.keys.device(deviceId),
      'secret',
      'revoked',
      'node',
      'conn',
    );
    return { stored, revoked: revoked === '1', previous: node && conn ? { node, connectionId: conn } : null };
  }

  /**
   * WebSocket connectionParams: `{ token }` for an admin; `{ deviceId, secret }` for a device;
   * `{ deviceId, enrollToken }` for a device without a credential yet (it may only enroll).
   * Anything else refuses the whole connection.
   */
  async fromConnectionParams(
    params: Readonly<Record<string, string | undefined>> | null,
    address: string,
  ): Promise<DeviceAuth> {
    // Nothing presented is no login to count: refused at once, without a Redis call.
    if (!params || [params.token, params.secret, params.enrollToken].every((value) => value === undefined))
      return this.checkConnectionParams(params);
    const claimed = params.deviceId;
    const kind: CredentialKind =
      claimed === undefined ? 'admin_token' : params.secret !== undefined ? 'device_secret' : 'enroll_token';
    const identity = claimed === undefined ? 'admin token' : `device:${claimed.slice(0, 128)}`;
    return this.throttled({ address, identity, kind }, () => this.checkConnectionParams(params));
  }

  private async checkConnectionParams(
    params: Readonly<Record<string, string | undefined>> | null,
  ): Promise<DeviceAuth> {
    if (!params) throw refused('no connection params');
    if (params.deviceId === undefined) {
      const principal = await this.admin(params.token);
      if (!principal)
        throw refused(params.token ? 'admin token unknown, expired or revoked' : 'no credentials');
      return { principal, previous: null };
    }
    const id = DeviceId.safeParse(params.deviceId);
    if (!id.success) throw refused('malformed device id');
    const deviceId = id.data;
    const { stored, revoked, previous } = await this.credentialOf(deviceId);
    if (params.secret !== undefined) {
      if (!stored) throw refused('device not enrolled');
      if (revoked) throw refused('device credential revoked');
      if (!sameDigest(sha256(params.secret), stored)) throw refused('wrong device secret');
      return { principal: { kind: 'device', deviceId }, previous };
    }
    const enrollToken = params.enrollToken ?? params.token;
    if (enrollToken === undefined) throw refused('no device secret or enrollment token');
    if (stored || revoked) throw refused('enrollment of an already enrolled device');
    const digest = sha256(enrollToken);
    if (this.enrollDigest && sameDigest(digest, this.enrollDigest)) {
      return { principal: { kind: 'enrollee', deviceId, enrollTokenId: null }, previous: null };
    }
    const tokenId = parseIssuedToken(enrollToken, 'cfe');
    const record = tokenId ? await this.issued.enrollTokens.lookup(tokenId) : null;
    if (!record || !sameDigest(digest, record.hash)) throw refused('unknown enrollment token');
    return { principal: { kind: 'enrollee', deviceId, enrollTokenId: tokenId }, previous: null };
  }
}
