/**
 * What a browser may bundle (`@camfleet/contracts/forms`): the schemas and pure helpers behind the
 * dashboard's forms (publish a patch, create a rollout, add a webhook), without the router. The
 * package's root exports the router, and @trpc/server refuses to load in a page.
 */
export { type Manifest, manifestText, type Signature } from './manifest.js';
export { PublishPatchInput } from './routers/patch.schema.js';
export { CreateRolloutInput, RolloutTarget, retryBackoffOf } from './routers/rollout.schema.js';
export {
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_WILDCARDS,
  webhookUrlProblem,
} from './routers/webhooks.schema.js';
export { WINDOW_HINT, windowFromText } from './window-text.js';
