import {
  type CredentialService,
  type DeviceCredential,
  FleetError,
  type ProvisionInput,
  type ProvisionManyInput,
  type ProvisionManyResult,
} from '@camfleet/contracts';
import { type CredentialAction, deviceCredential } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { newDeviceSecret, sha256 } from './secrets.js';
import type { EnrollTokens } from './tokens.js';

/** Tells pods to close a device's connections (revoked or rotated credentials). */
export type Kick = (deviceId: string, code: number, reason: string) => Promise<void>;

/** Devices' own secrets: provisioned, enrolled, rotated, revoked. Stored only as digests, shown once. */
export class DeviceCredentials implements CredentialService {
  constructor(
    private readonly deps: FleetDeps,
    private readonly enrollTokens: EnrollTokens,
    private readonly kick: Kick,
  ) {}

  private set(
    deviceId: string,
    action: CredentialAction,
    secretDigest: string,
    device: { model?: string; labels?: Record<string, string> } = {},
  ) {
    return this.deps.scripts.run(deviceCredential, {
      bucket: this.deps.keys.bucketOfDevice(deviceId),
      deviceId,
      action,
      secretDigest,
      ...device,
    });
  }

  async enroll(deviceId: string, enrollTokenId: string | null): Promise<DeviceCredential> {
    if (enrollTokenId && !(await this.enrollTokens.lookup(enrollTokenId, 1))) {
      throw new FleetError('UNAUTHORIZED', 'enrollment: the token is unknown, revoked, expired or used up');
    }
    const secret = newDeviceSecret();
    try {
      await this.set(deviceId, 'enroll', sha256(secret));
    } catch (error) {
      // The use was not spent: give it back.
      if (enrollTokenId) await this.enrollTokens.lookup(enrollTokenId, -1);
      throw error;
    }
    return { deviceId, secret };
  }

  async provision(input: ProvisionInput, _actor: string): Promise<DeviceCredential> {
    const secret = newDeviceSecret();
    await this.set(input.deviceId, 'provision', sha256(secret), { model: input.model, labels: input.labels });
    return { deviceId: input.deviceId, secret };
  }

  /**
   * One credential script per device, all sent at once (auto-pipelining: a round trip per master,
   * not per device). A device that has a credential already is refused by the script (CONFLICT)
   * and listed as existing, unchanged.
   */
  async provisionMany(input: ProvisionManyInput, _actor: string): Promise<ProvisionManyResult> {
    const outcomes = await Promise.all(
      input.devices.map(async (device) => {
        const secret = newDeviceSecret();
        try {
          await this.set(device.deviceId, 'provision', sha256(secret), {
            model: device.model,
            labels: device.labels,
          });
          return { deviceId: device.deviceId, secret };
        } catch (error) {
          if (error instanceof FleetError && error.code === 'CONFLICT')
            return { deviceId: device.deviceId, secret: null };
          throw error;
        }
      }),
    );
    return {
      created: outcomes.flatMap(({ deviceId, secret }) => (secret === null ? [] : [{ deviceId, secret }])),
      existing: outcomes.flatMap(({ deviceId, secret }) => (secret === null ? [deviceId] : [])),
    };
  }

  async rotate(deviceId: string, _actor: string): Promise<DeviceCredential> {
    const secret = newDeviceSecret();
    await this.set(deviceId, 'rotate', sha256(secret));
    await this.kick(deviceId, 4001, 'credentials rotated');
    return { deviceId, secret };
  }

  async revoke(deviceId: string, _actor: string): Promise<{ deviceId: string; revoked: true }> {
    await this.set(deviceId, 'revoke', '');
    await this.kick(deviceId, 4001, 'credentials revoked');
    return { deviceId, revoked: true };
  }
}
