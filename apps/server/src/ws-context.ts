import { randomUUID } from 'node:crypto';
import type { ConnectionRef, FleetContext } from '@camfleet/contracts';
import { TRPCError } from '@trpc/server';
import type { CreateWSSContextFnOptions } from '@trpc/server/adapters/ws';
import type { Logger } from 'pino';
import { type Admission, addressOf } from './admission.js';
import type { Authenticator, DeviceAuth } from './auth.js';
import { CLOSE, type Connections } from './connections.js';
import type { RedisFleet } from './fleet/fleet.js';
import type { HintBus } from './fleet/hints.js';

export interface WsContextDeps {
  auth: Authenticator;
  admission: Admission;
  connections: Connections;
  fleet: RedisFleet;
  hints: HintBus;
  /** This pod instance: a device's older connection elsewhere is closed through a hint. */
  instance: string;
  maxSubscriptions: number;
  log: Logger;
}

/**
 * Makes `connectionId` the device's only connection: its older connections here are closed (4002:
 * replaced), and the one another pod holds (`previous`) is dropped through that pod's hint channel.
 */
export async function takeOverDevice(
  deps: Pick<WsContextDeps, 'connections' | 'hints' | 'instance'>,
  deviceId: string,
  connectionId: string,
  previous: DeviceAuth['previous'],
): Promise<void> {
  deps.connections.closeDevice(deviceId, CLOSE.replaced, 'replaced by a newer connection', connectionId);
  if (previous && previous.node !== deps.instance)
    await deps.hints.drop(previous.node, previous.connectionId);
}

/** The connection's credentials, checked once; a refusal is logged without what was presented. */
async function authenticate(
  deps: Pick<WsContextDeps, 'auth' | 'connections'>,
  connectionId: string,
  info: CreateWSSContextFnOptions['info'],
  address: string,
): ReturnType<Authenticator['fromConnectionParams']> {
  try {
    return await deps.auth.fromConnectionParams(info.connectionParams, address);
  } catch (error) {
    deps.connections.refused(connectionId, info.connectionParams, error);
    throw error;
  }
}

/**
 * The context of a tRPC WebSocket connection: who it is (its connectionParams, checked once), its
 * subscription places, and for a device how it takes over from the device's older connections.
 */
export function wsContext(deps: WsContextDeps) {
  return async ({ req, res, info }: CreateWSSContextFnOptions): Promise<FleetContext> => {
    const connectionId = randomUUID();
    // No closure here may capture `info` (it holds the presented secret) or `req`: the closures
    // below live as long as the connection.
    const { principal, previous } = await authenticate(deps, connectionId, info, addressOf(req));
    const deviceId = principal.kind === 'device' ? principal.deviceId : null;
    if (deviceId && res.readyState !== res.OPEN) {
      // The client gave up on this socket while its credentials were checked (Redis slow or
      // frozen) and may be connected again elsewhere by now: a closed connection must not replace
      // the device's live one (4002 tells it to stop for good).
      throw new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'connection closed' });
    }
    const principalSubscriptions = deps.admission.enter(res, principal);
    const connection: ConnectionRef = {
      connectionId,
      subscriptions: { open: 0, max: deps.maxSubscriptions },
      ...(principalSubscriptions ? { principalSubscriptions } : {}),
    };
    deps.connections.add(connectionId, res, principal);
    if (deviceId) {
      res.once('close', () => {
        deps.fleet.devices
          .disconnected(deviceId, connectionId)
          .catch((err: unknown) => deps.log.warn({ err, deviceId }, 'disconnect not recorded'));
      });
      // One connection per device: the newest wins, an older one (here or on another pod) is closed
      // — once this one registers. A socket that only authenticates is not yet the device: a client
      // library still reconnecting for a connection its app gave up on (seen after pod drains) must
      // not close the device's live connection with 4002, which tells it to stop for good.
      let tookOver = false;
      connection.takeOver = async () => {
        if (tookOver) return;
        tookOver = true;
        await takeOverDevice(deps, deviceId, connectionId, previous);
      };
    }
    return { principal, fleet: deps.fleet, connection };
  };
}
