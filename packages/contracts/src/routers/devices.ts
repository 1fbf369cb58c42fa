import { adminProcedure, router } from '../trpc.js';
import { credentialsRouter } from './access.js';
import { DeviceDetail, DeviceIdInput, DevicePage, FleetStats, ListDevicesInput } from './devices.schema.js';

/** Inventory, as operators see it. */
export const devicesRouter = router({
  list: adminProcedure('viewer')
    .input(ListDevicesInput)
    .output(DevicePage)
    .query(({ ctx, input }) => ctx.fleet.listDevices(input)),
  get: adminProcedure('viewer')
    .input(DeviceIdInput)
    .output(DeviceDetail)
    .query(({ ctx, input }) => ctx.fleet.getDevice(input.deviceId)),
  credentials: credentialsRouter,
});

export const fleetRouter = router({
  stats: adminProcedure('viewer')
    .output(FleetStats)
    .query(({ ctx }) => ctx.fleet.stats()),
});
