import { WebhookIdInput } from '@camfleet/contracts';
import { check } from '../../validate.js';

/** A webhook id as `webhook list` shows it (`wh_` and 16 hex digits). */
export function webhookIdArg(id: string): string {
  check(`webhook id '${id}'`, WebhookIdInput, { id }, () => null);
  return id;
}
