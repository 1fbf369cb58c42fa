import { type Logger, pino } from 'pino';

/** Structured JSON logs on stdout; secrets never appear (tokens are redacted by path too). */
export function createLogger(level: string, base: Record<string, string>): Logger {
  return pino({
    level,
    base,
    redact: ['token', '*.token', 'headers.authorization', 'connectionParams'],
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
