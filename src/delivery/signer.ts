import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

// Secrets are reused for every delivery to a subscription; decoding them on
// each signature would be wasted work. Bounded so rotated-away secrets and a
// large tenant count cannot grow memory without limit.
const KEY_CACHE_LIMIT = 1024;
const keyCache = new Map<string, Buffer>();

function hmacKey(secret: string): Buffer {
  const cached = keyCache.get(secret);
  if (cached) return cached;
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new Error('webhook secret must start with "whsec_"');
  }
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length === 0) {
    throw new Error('webhook secret has an empty key');
  }
  if (keyCache.size >= KEY_CACHE_LIMIT) {
    // Map iteration order is insertion order, so this evicts the oldest entry.
    const oldest = keyCache.keys().next();
    if (!oldest.done) keyCache.delete(oldest.value);
  }
  keyCache.set(secret, key);
  return key;
}

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

export function signPayload(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  const mac = createHmac('sha256', hmacKey(secret));
  mac.update(`${msgId}.${timestampSeconds}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

export function signatureHeader(
  secrets: readonly string[],
  msgId: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  // During a rotation both the old and new secret sign, so receivers on
  // either secret keep verifying.
  return secrets.map((secret) => signPayload(secret, msgId, timestampSeconds, body)).join(' ');
}

export interface WebhookMessage {
  msgId: string;
  timestampSeconds: number;
  body: string;
}

export function webhookHeaders(
  message: WebhookMessage,
  secrets: readonly string[],
  userAgent: string,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': userAgent,
    'webhook-id': message.msgId,
    'webhook-timestamp': String(message.timestampSeconds),
    'webhook-signature': signatureHeader(secrets, message.msgId, message.timestampSeconds, message.body),
  };
}
