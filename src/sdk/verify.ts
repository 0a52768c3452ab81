import { createHmac, timingSafeEqual } from 'node:crypto';

/** The body of every Hooklane delivery. */
export interface WebhookPayload<TData = unknown> {
  /** The event type, e.g. `invoice.paid`. */
  type: string;
  /** When the event was published (ISO-8601). */
  timestamp: string;
  /** The event's payload (`{ id }` for a THIN subscription). */
  data: TData;
}

export type WebhookVerificationErrorCode =
  | 'MISSING_HEADERS'
  | 'INVALID_TIMESTAMP'
  | 'TIMESTAMP_TOO_OLD'
  | 'TIMESTAMP_TOO_NEW'
  | 'INVALID_SIGNATURE'
  | 'INVALID_SECRET'
  | 'INVALID_PAYLOAD';

/** Thrown by {@link verifyWebhook}: answer the request with 400 (or 401) and do not process it. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly code: WebhookVerificationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers;

export interface VerifyOptions {
  /** How far the `webhook-timestamp` may be from `now`, either way (default 300 seconds). */
  toleranceSeconds?: number;
  /** The current time (default: the clock). */
  now?: Date;
}

const SECRET_PREFIX = 'whsec_';

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    // Plain objects may keep the sender's casing (`Webhook-Id`); Node's IncomingHttpHeaders are lowercase.
    const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.join(' ');
  return value;
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new WebhookVerificationError('INVALID_SECRET', 'The secret is not `whsec_` followed by base64');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'The secret is empty');
  return key;
}

/**
 * Verifies a Hooklane delivery (Standard Webhooks 1.0) and returns its parsed body.
 *
 * `rawBody` must be the body exactly as received, before any JSON parsing. `secret` is the
 * subscription's `whsec_…` secret; pass several (e.g. during a rotation) to accept any of them.
 * Checks that `webhook-timestamp` is within `toleranceSeconds` of now (both ways), then that one
 * of the space-separated `v1,<base64>` entries of `webhook-signature` is the HMAC-SHA256 of
 * `{webhook-id}.{webhook-timestamp}.{body}`, comparing in constant time.
 *
 * @throws WebhookVerificationError when a header is missing, the timestamp is out of tolerance,
 *   no signature matches, a secret is malformed or the verified body is not JSON.
 */
export function verifyWebhook<TData = unknown>(
  rawBody: string | Buffer | Uint8Array,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyOptions = {},
): WebhookPayload<TData> {
  const secrets = typeof secret === 'string' ? [secret] : [...secret];
  if (secrets.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'No secret was given');
  const keys = secrets.map(secretKey);

  const id = headerValue(headers, 'webhook-id');
  const timestampHeader = headerValue(headers, 'webhook-timestamp');
  const signatureHeader = headerValue(headers, 'webhook-signature');
  if (!id || !timestampHeader || !signatureHeader) {
    throw new WebhookVerificationError('MISSING_HEADERS', 'The webhook-id, webhook-timestamp and webhook-signature headers are required');
  }

  if (!/^\d{1,15}$/.test(timestampHeader.trim())) {
    throw new WebhookVerificationError('INVALID_TIMESTAMP', 'webhook-timestamp is not a Unix time in seconds');
  }
  const timestamp = Number(timestampHeader.trim());
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (now - timestamp > tolerance) throw new WebhookVerificationError('TIMESTAMP_TOO_OLD', 'The webhook timestamp is too old');
  if (timestamp - now > tolerance) throw new WebhookVerificationError('TIMESTAMP_TOO_NEW', 'The webhook timestamp is in the future');

  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestampHeader}.`, 'utf8'), body]);
  const expected = keys.map((key) => createHmac('sha256', key).update(signed).digest());

  const candidates: Buffer[] = [];
  for (const entry of signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    candidates.push(Buffer.from(entry.slice(comma + 1), 'base64'));
  }
  let matched = false;
  for (const candidate of candidates) {
    for (const digest of expected) {
      // Checks every pair rather than stopping at the first match: no timing signal about which matched.
      if (candidate.length === digest.length && timingSafeEqual(candidate, digest)) matched = true;
    }
  }
  if (!matched) throw new WebhookVerificationError('INVALID_SIGNATURE', 'No webhook-signature matches the secret');

  try {
    return JSON.parse(body.toString('utf8')) as WebhookPayload<TData>;
  } catch {
    throw new WebhookVerificationError('INVALID_PAYLOAD', 'The signed body is not JSON');
  }
}
