import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';

const nodeRequire = createRequire(import.meta.url);

/** Field names whose values never reach the log, at the top level and one or two levels down. */
const SECRET_FIELDS = ['secret', 'secrets', 'authorization', 'token', 'secretsKey', 'ed25519SecretKey', 'cookie', 'password', 'clientSecret', 'clientKey'];

const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["webhook-signature"]',
  '*.headers["webhook-signature"]',
];

/** Signing secrets (`whsec_…`) and Ed25519 secret keys (`whsk_…`), wherever they appear in a line. */
const SECRET_TOKEN = /wh(?:sec|sk)_[A-Za-z0-9+/=_-]*/g;

/** A last line of defence: a secret inside a message or an error text is replaced before the line is written. */
export function scrubSecrets(line: string): string {
  return line.includes('whsec_') || line.includes('whsk_') ? line.replace(SECRET_TOKEN, '[redacted]') : line;
}

export type LogFormat = 'auto' | 'pretty' | 'json';

/**
 * Structured JSON logs; secrets and tokens are redacted wherever they appear. Without a
 * `destination` they go to standard output: as JSON lines, or, `pretty` (or `auto` on a terminal),
 * as readable lines (pino-pretty) made from the same redacted JSON.
 */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: scrubSecrets },
  };
  if (!destination && (format === 'pretty' || (format === 'auto' && process.stdout.isTTY))) {
    // Loaded only here: a server that logs JSON never loads it. Written synchronously: a person reads it.
    const pretty = nodeRequire('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty({ sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }));
  }
  // Standard output is written asynchronously: under load, lines that arrive while a write is under
  // way go out together in the next one, instead of one blocking write per request. pino flushes
  // what is pending when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
