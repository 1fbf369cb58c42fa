// What `token create` and `enroll-token create` share: default names, flag help, flag names.
import { formatTimestamp } from '../../time.js';

/** `20250301`: today (UTC), for default token names. */
export function yyyymmdd(ms: number): string {
  return formatTimestamp(ms).slice(0, 10).replaceAll('-', '');
}

export const NAME_HELP = 'letters, digits and . _ @ -';
export const EXPIRES_HELP = 'lifetime, e.g. 90m, 12h, 30d (from 1m to 1095d; default never)';

/** Names a request's flags for schema messages. */
export const flagOf = (path: ReadonlyArray<PropertyKey>): string | null => {
  switch (path[0]) {
    case 'name':
      return '--name';
    case 'expiresInMs':
      return '--expires';
    case 'uses':
      return '--uses';
    default:
      return path.length > 0 ? path.map(String).join('.') : null;
  }
};
