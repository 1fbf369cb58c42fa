import { TRPCClientError, trpcCodeOf } from '@camfleet/client';
import type { AppRouter } from '@camfleet/contracts';

/** Process exit codes; documented in `fleet --help`. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  TIMEOUT: 3,
  NOT_FOUND: 4,
  AUTH: 5,
  CONFLICT: 6,
  UNREACHABLE: 7,
  INTERRUPTED: 130,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success (rollout watch: the rollout completed and every targeted device succeeded)
  1  failure (rollout watch: the rollout was aborted or canceled, or some deliveries failed;
     check ids: stored device ids break the id rule)
  2  usage or configuration error (bad flag, duration, percentage, waves or selector;
     bad device id, role or --credentials file; no server URL or token from the flags,
     FLEET_URL/FLEET_TOKEN or a context; an unknown --context or a malformed config file;
     a request the server refused as invalid; patch publish: an unreadable FILE or
     --sign-key, or an artifact too large for the server; keys generate: a file exists)
  3  rollout watch --timeout reached before the rollout ended (a paused rollout is watched on)
  4  not found (a rollout, patch, device or token id the server does not know)
  5  authentication or authorization refused (check the token: --token, FLEET_TOKEN or the
     context's; and its role)
  6  conflict (e.g. the rollout already ended, or cannot be paused, resumed or advanced now;
     device provision: the device already has a credential, rotate it instead;
     patch delete: a live rollout uses the patch)
  7  server unreachable or unavailable (check the URL: --url, FLEET_URL or the context's)
  130 interrupted (Ctrl-C)`;

/** A failure that carries its own exit code; `message` (if not empty) goes to stderr. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bad flags, arguments or configuration: exit 2, nothing sent to the server. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(EXIT.USAGE, message);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The innermost network error code (ECONNREFUSED, …) along an error's cause chain. */
export function networkCodeOf(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code: unknown = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    current = current.cause;
  }
  return null;
}

/** A request that never got an answer from the server (refused, DNS, reset, …). */
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof TRPCClientError) || error.data) return false;
  if (networkCodeOf(error) !== null) return true;
  const cause: unknown = error.cause;
  return cause instanceof TypeError && cause.message === 'fetch failed';
}

function httpStatusOf(error: TRPCClientError<AppRouter>): number | null {
  const response: unknown = error.meta?.response;
  if (typeof response === 'object' && response !== null && 'status' in response) {
    const status: unknown = response.status;
    if (typeof status === 'number') return status;
  }
  return null;
}

/** The exit code for any error a command can throw. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  // Every domain code travels as a tRPC code (contracts' TRPC_CODE_OF), so the tRPC code decides.
  switch (trpcCodeOf(error)) {
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'UNAUTHORIZED':
    case 'FORBIDDEN':
      return EXIT.AUTH;
    case 'CONFLICT':
      return EXIT.CONFLICT;
    case 'BAD_REQUEST':
    case 'PARSE_ERROR':
      return EXIT.USAGE;
    case 'SERVICE_UNAVAILABLE':
    case 'GATEWAY_TIMEOUT':
      return EXIT.UNREACHABLE;
  }
  if (isUnreachable(error)) return EXIT.UNREACHABLE;
  if (error instanceof TRPCClientError) {
    const status = httpStatusOf(error);
    if (status === 401 || status === 403) return EXIT.AUTH;
    if (status === 502 || status === 503 || status === 504) return EXIT.UNREACHABLE;
  }
  return EXIT.FAILURE;
}

/** Validation issues the server attached to a BAD_REQUEST, as one line. */
function zodIssuesOf(error: TRPCClientError<AppRouter>): string | null {
  const data: unknown = error.data;
  if (typeof data !== 'object' || data === null || !('zodIssues' in data)) return null;
  const issues: unknown = data.zodIssues;
  if (typeof issues !== 'object' || issues === null) return null;
  const parts: string[] = [];
  const { formErrors, fieldErrors } = issues as { formErrors?: unknown; fieldErrors?: unknown };
  if (Array.isArray(formErrors)) parts.push(...formErrors.map(String));
  if (typeof fieldErrors === 'object' && fieldErrors !== null) {
    for (const [field, messages] of Object.entries(fieldErrors)) {
      if (Array.isArray(messages)) parts.push(`${field}: ${messages.map(String).join(', ')}`);
    }
  }
  return parts.length > 0 ? parts.join('; ') : null;
}

/** The message at the bottom of an error's cause chain (`bad port`, …). */
function innermostMessage(error: Error): string {
  let current: Error = error;
  for (let depth = 0; depth < 6 && current.cause instanceof Error; depth++) current = current.cause;
  return firstLine(current.message);
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.trim();
}

/** What a command was talking to when it failed, so its error can say what to check. */
export interface ErrorContext {
  /** The pod URL in use. */
  url?: string | null;
  /** Where the URL came from: `--url`, `FLEET_URL`, `context 'prod'`. */
  urlFrom?: string | null;
  /** Where the token came from: `--token`, `FLEET_TOKEN`, `context 'prod'`. */
  tokenFrom?: string | null;
  /** A command that lists what exists, for "not found": `fleet rollout list`. */
  listCommand?: string | null;
}

function whatToCheck(from: string | null | undefined, flag: string, variable: string): string {
  if (from?.startsWith('context ')) {
    return `comes from ${from}: check it with fleet config get-contexts, or override it with ${flag} / ${variable}`;
  }
  if (from === flag) return `comes from ${flag}: check it`;
  return `comes from ${variable}: check it, pass ${flag}, or use a context (fleet config get-contexts)`;
}

/** A clear, single-line description of an error for stderr: what went wrong, and what to do. */
export function describeError(error: unknown, context: ErrorContext | string | null = null): string {
  const ctx: ErrorContext = typeof context === 'string' ? { url: context } : (context ?? {});
  const baseUrl = ctx.url ?? null;
  if (error instanceof CliError) return firstLine(error.message);
  const code = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TRPCClientError) {
    if (isUnreachable(error)) {
      const detail = networkCodeOf(error) ?? innermostMessage(error);
      const check = ctx.urlFrom
        ? `; is a pod running there? The URL ${whatToCheck(ctx.urlFrom, '--url', 'FLEET_URL')}`
        : '';
      return `cannot reach the fleet server${baseUrl ? ` at ${baseUrl}` : ''} (${detail})${check}`;
    }
    switch (code) {
      case EXIT.AUTH: {
        if (trpcCodeOf(error) === 'FORBIDDEN') {
          return `access denied: ${firstLine(message)} (the token's role does not allow this: use a token with that role; fleet token create --role … issues one)`;
        }
        const check = ctx.tokenFrom
          ? `the token was refused${baseUrl ? ` by ${baseUrl}` : ''}; it ${whatToCheck(ctx.tokenFrom, '--token', 'FLEET_TOKEN')}`
          : 'check FLEET_TOKEN / --token';
        return `access denied: ${firstLine(message)} (${check})`;
      }
      case EXIT.NOT_FOUND:
        return `not found: ${firstLine(message)}${ctx.listCommand ? ` (${ctx.listCommand} shows what exists)` : ''}`;
      case EXIT.CONFLICT:
        return `conflict: ${firstLine(message)}`;
      case EXIT.USAGE:
        return `invalid request: ${zodIssuesOf(error) ?? firstLine(message)}`;
      case EXIT.UNREACHABLE:
        return `server unavailable: ${firstLine(message)}${baseUrl ? ` (${baseUrl} answered but cannot serve now: try again)` : ''}`;
    }
    return `server error: ${firstLine(message)}`;
  }
  return firstLine(message);
}
