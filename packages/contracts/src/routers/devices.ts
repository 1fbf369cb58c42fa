import { adminProcedure, holdingSubscription, router } from '../trpc.js';
import { credentialsRouter } from './access.js';
import {
  DeviceDetail,
  DeviceIdInput,
  DevicePage,
  FleetStats,
  ListDevicesInput,
  WatchStatsInput,
} from './devices.schema.js';

/** Inventory, as operators see it. */
export const devicesRouter = router({
  list: adminProcedure('viewer')
    .input(ListDevicesInput)
    .output(DevicePage)
    .query(({ ctx, input }) => ctx.fleet.inventory.list(input)),
  get: adminProcedure('viewer')
    .input(DeviceIdInput)
    .output(DeviceDetail)
    .query(({ ctx, input }) => ctx.fleet.inventory.get(input.deviceId)),
  credentials: credentialsRouter,
});

export const fleetRouter = router({
  stats: adminProcedure('viewer')
    .output(FleetStats)
    .query(({ ctx }) => ctx.fleet.inventory.stats()),
  /** Live figures: a snapshot now, then one whenever devices connect, leave or change pods. */
  watch: adminProcedure('viewer')
    .input(WatchStatsInput)
    .subscription(({ ctx, input, signal }) =>
      holdingSubscription(
        ctx.connection,
        (stop) => ctx.fleet.inventory.watchStats(input.intervalMs, stop),
        signal,
      ),
    ),
});
