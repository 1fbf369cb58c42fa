import { bucketScript, flag, type InBucket, list, num, okValues, str } from '../script.js';

/** device_register.lua: a device says hello (first time, after a reconnect, after a restart). */
export const deviceRegister = bucketScript({
  name: 'device_register',
  argv: (
    i: InBucket & {
      deviceId: string;
      model: string;
      firmwareVersion: string;
      labels: Record<string, string>;
      /** The pod instance and connection holding it; '' when registered without a connection. */
      instance: string;
      connectionId: string;
      graceMs: number;
      /** Its zone for maintenance windows ("offset,until,next" from its `tz` label; '' for none). */
      zone?: string;
    },
  ) => [
    i.deviceId,
    i.model,
    i.firmwareVersion,
    JSON.stringify(i.labels),
    i.instance,
    i.connectionId,
    i.graceMs,
    i.zone ?? '',
    i.bucket.layoutVersion,
  ],
  decode: (reply) => {
    const [firstSeenAt, lastSeenAt, online, node, offerable, leftRollout, slot, finalState] = list(reply);
    return {
      firstSeenAt: num(firstSeenAt),
      lastSeenAt: num(lastSeenAt),
      online: flag(online),
      node: str(node),
      /** It has work it could be offered now. */
      offerable: flag(offerable),
      /** A delivery that left flight here (verified or rolled back), or null. */
      left: str(leftRollout)
        ? { rolloutId: str(leftRollout), slot: str(slot), state: str(finalState) || 'queued' }
        : null,
    };
  },
});

/** device_disconnect.lua: a device's connection closed. True if it went offline. */
export const deviceDisconnect = bucketScript({
  name: 'device_disconnect',
  argv: (i: InBucket & { deviceId: string; connectionId: string; graceMs: number }) => [
    i.deviceId,
    i.connectionId,
    i.graceMs,
  ],
  decode: (reply) => flag(reply),
});

/** device_reconcile.lua: the pod holding devices' connections checks that Redis agrees, per device. */
export const deviceReconcile = bucketScript({
  name: 'device_reconcile',
  argv: (
    i: InBucket & {
      instance: string;
      graceMs: number;
      sessions: { deviceId: string; connectionId: string }[];
    },
  ) => [i.instance, i.graceMs, ...i.sessions.flatMap((s) => [s.deviceId, s.connectionId])],
  decode: (reply) =>
    list(reply).map((entry) => {
      const [restored, offerable, parked] = list(entry);
      /** `parked`: the rollout of a delivery parked for a slot that would start next ('' if none). */
      return { restored: flag(restored), offerable: flag(offerable), parked: str(parked) };
    }),
});

export type CredentialAction = 'enroll' | 'provision' | 'rotate' | 'revoke';

/** device_credential.lua: set or drop a device's own credential; where the device is connected now. */
export const deviceCredential = bucketScript({
  name: 'device_credential',
  argv: (
    i: InBucket & {
      deviceId: string;
      action: CredentialAction;
      secretDigest: string;
      model?: string;
      labels?: Record<string, string>;
    },
  ) => [
    i.deviceId,
    i.action,
    i.secretDigest,
    i.model ?? '',
    JSON.stringify(i.labels ?? {}),
    i.bucket.layoutVersion,
  ],
  decode: (reply, input) => {
    const [node, connectionId] = okValues(reply, `device ${input.deviceId}`);
    return { node: str(node), connectionId: str(connectionId) };
  },
});

/** node_gone.lua: a dead pod instance's devices in this bucket go offline. How many did. */
export const nodeGone = bucketScript({
  name: 'node_gone',
  argv: (i: InBucket & { instance: string; graceMs: number }) => [i.instance, i.graceMs],
  decode: (reply) => num(reply),
});
