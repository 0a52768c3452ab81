import pino, { type DestinationStream, type Logger } from 'pino';

/** Field names whose values never reach the log, at the top level and one or two levels down. */
const SECRET_FIELDS = ['secret', 'secrets', 'authorization', 'token', 'secretsKey', 'ed25519SecretKey', 'cookie', 'password'];

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

/** Structured JSON logs; secrets and tokens are redacted wherever they appear. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: scrubSecrets },
  };
  // Standard output is written asynchronously: under load, lines that arrive while a write is under
  // way go out together in the next one, instead of one blocking write per request. pino flushes
  // what is pending when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
