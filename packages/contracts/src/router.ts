import { deviceRouter } from './routers/device.js';
import { devicesRouter, fleetRouter } from './routers/devices.js';
import { eventsRouter } from './routers/events.js';
import { patchRouter } from './routers/patch.js';
import { rolloutRouter } from './routers/rollout.js';
import { router } from './trpc.js';

export const appRouter = router({
  device: deviceRouter,
  patch: patchRouter,
  rollout: rolloutRouter,
  devices: devicesRouter,
  fleet: fleetRouter,
  events: eventsRouter,
});

export type AppRouter = typeof appRouter;
