import { createHash, timingSafeEqual } from 'node:crypto';
import { DeviceId, type Principal } from '@camfleet/contracts';
import { TRPCError } from '@trpc/server';

const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/**
 * Checks credentials. Secrets are kept only as SHA-256 digests and compared in constant time
 * (equal-length digests, so length leaks nothing either).
 */
export class Authenticator {
  private readonly adminDigest: Buffer;
  private readonly enrollDigest: Buffer;

  constructor(adminToken: string, enrollToken: string) {
    this.adminDigest = digest(adminToken);
    this.enrollDigest = digest(enrollToken);
  }

  /** `Authorization: Bearer <token>` on HTTP. No header: anonymous (procedures then refuse). */
  fromAuthorizationHeader(header: string | undefined): Principal {
    const match = header ? /^Bearer (.+)$/i.exec(header) : null;
    if (match?.[1] && timingSafeEqual(digest(match[1]), this.adminDigest)) {
      return { kind: 'admin', name: 'admin', role: 'admin' };
    }
    return { kind: 'anonymous' };
  }

  /**
   * WebSocket connectionParams: `{ token }` for an admin, `{ deviceId, token }` for a device.
   * Wrong credentials refuse the whole connection (UNAUTHORIZED).
   */
  fromConnectionParams(params: Readonly<Record<string, string | undefined>> | null): Principal {
    const token = params?.token;
    if (!token) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'connectionParams.token required' });
    const tokenDigest = digest(token);
    if (params.deviceId !== undefined) {
      const id = DeviceId.safeParse(params.deviceId);
      if (!id.success) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'invalid device id' });
      if (!timingSafeEqual(tokenDigest, this.enrollDigest)) {
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'device credentials refused' });
      }
      return { kind: 'device', deviceId: id.data };
    }
    if (timingSafeEqual(tokenDigest, this.adminDigest))
      return { kind: 'admin', name: 'admin', role: 'admin' };
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'admin credentials refused' });
  }
}
