import { adminProcedure, holdingSubscription, router } from '../trpc.js';
import { credentialsRouter } from './access.js';
import {
  CheckIdsInput,
  DeviceDetail,
  DeviceIdInput,
  DevicePage,
  FleetOverview,
  FleetStats,
  IdCheck,
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
  /** Stored device ids that break today's id rule (kept by older versions): a one-off admin check. */
  checkIds: adminProcedure('viewer')
    .input(CheckIdsInput)
    .output(IdCheck)
    .query(({ ctx, input }) => ctx.fleet.inventory.checkIds(input)),
  credentials: credentialsRouter,
});

export const fleetRouter = router({
  stats: adminProcedure('viewer')
    .output(FleetStats)
    .query(({ ctx }) => ctx.fleet.inventory.stats()),
  overview: adminProcedure('viewer')
    .output(FleetOverview)
    .query(({ ctx }) => ctx.fleet.inventory.overview()),
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
