import { auditRouter, enrollTokensRouter, tokensRouter } from './routers/access.js';
import { deviceRouter } from './routers/device.js';
import { devicesRouter, fleetRouter } from './routers/devices.js';
import { eventsRouter } from './routers/events.js';
import { patchRouter } from './routers/patch.js';
import { rolloutRouter } from './routers/rollout.js';
import { webhooksRouter } from './routers/webhooks.js';
import { router } from './trpc.js';

export const appRouter = router({
  device: deviceRouter,
  patch: patchRouter,
  rollout: rolloutRouter,
  devices: devicesRouter,
  fleet: fleetRouter,
  events: eventsRouter,
  tokens: tokensRouter,
  enrollTokens: enrollTokensRouter,
  audit: auditRouter,
  webhooks: webhooksRouter,
});

export type AppRouter = typeof appRouter;
