import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * Where secrets could sit in a logged object; each is censored if a log call ever carries one.
 * Code also never logs them on purpose: connection logs name the connection and device only.
 */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'enrollToken',
  '*.enrollToken',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'connectionParams',
  '*.connectionParams',
];

/**
 * Structured JSON logs on stdout (or `destination`, for tests); secrets never appear (tokens are
 * redacted by path too).
 */
export function createLogger(
  level: string,
  base: Record<string, string>,
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base,
    redact: REDACT_PATHS,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
