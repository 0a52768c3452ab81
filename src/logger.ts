import pino, { type Logger } from 'pino';

/** Structured JSON logs; secrets and tokens are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['secret', '*.secret', 'secrets', '*.secrets', 'authorization', '*.authorization', 'headers.authorization', 'token'],
      censor: '[redacted]',
    },
  });
}
