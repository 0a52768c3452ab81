import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { BoundedMap } from '../bounded-map.js';

const SECRET_PREFIX = 'whsec_';

// Secrets are reused for every delivery to a subscription; decoding them on
// each signature would be wasted work. Bounded so rotated-away secrets and a
// large tenant count cannot grow memory without limit.
const KEY_CACHE_LIMIT = 1024;
const keyCache = new BoundedMap<string, Buffer>(KEY_CACHE_LIMIT, 'oldest');

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

const ED25519_SECRET_PREFIX = 'whsk_';
const ED25519_PUBLIC_PREFIX = 'whpk_';
// PKCS#8 DER header for an Ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_HEADER = Buffer.from('302e020100300506032b657004220420', 'hex');
const ed25519KeyCache = new BoundedMap<string, KeyObject>(KEY_CACHE_LIMIT, 'oldest');

function ed25519PrivateKey(secretKey: string): KeyObject {
  const cached = ed25519KeyCache.get(secretKey);
  if (cached) return cached;
  if (!secretKey.startsWith(ED25519_SECRET_PREFIX)) throw new Error('Ed25519 secret key must start with "whsk_"');
  const seed = Buffer.from(secretKey.slice(ED25519_SECRET_PREFIX.length), 'base64');
  if (seed.length !== 32) throw new Error('Ed25519 secret key must hold a 32-byte seed');
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_HEADER, seed]), format: 'der', type: 'pkcs8' });
  ed25519KeyCache.set(secretKey, key);
  return key;
}

/** A new Ed25519 signing key pair: `whsk_` + base64 seed (kept by Hooklane), `whpk_` + base64 public key (for receivers). */
export function generateEd25519KeyPair(): { secretKey: string; publicKey: string } {
  const seed = randomBytes(32);
  const secretKey = ED25519_SECRET_PREFIX + seed.toString('base64');
  return { secretKey, publicKey: ed25519PublicKey(secretKey) };
}

export function ed25519PublicKey(secretKey: string): string {
  const jwk = createPublicKey(ed25519PrivateKey(secretKey)).export({ format: 'jwk' });
  return ED25519_PUBLIC_PREFIX + Buffer.from(String(jwk.x), 'base64url').toString('base64');
}

/** Standard Webhooks asymmetric signature: `v1a,<base64 Ed25519 signature of "{id}.{timestamp}.{body}">`. */
export function signEd25519(secretKey: string, msgId: string, timestampSeconds: number, body: string | Buffer): string {
  const content = Buffer.concat([Buffer.from(`${msgId}.${timestampSeconds}.`), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
  return `v1a,${cryptoSign(null, content, ed25519PrivateKey(secretKey)).toString('base64')}`;
}

export interface SigningKeys {
  /** `whsec_` secrets, each giving a `v1` signature (two during a rotation's overlap). */
  hmacSecrets: readonly string[];
  /** A `whsk_` key giving a `v1a` signature beside the `v1` ones. */
  ed25519SecretKey?: string | null;
}

/** Headers for one attempt: every `v1` signature, then the `v1a` one when the subscription has a key pair. */
export function signedWebhookHeaders(message: WebhookMessage, keys: SigningKeys, userAgent: string): Record<string, string> {
  const headers = webhookHeaders(message, keys.hmacSecrets, userAgent);
  if (keys.ed25519SecretKey) {
    headers['webhook-signature'] += ` ${signEd25519(keys.ed25519SecretKey, message.msgId, message.timestampSeconds, message.body)}`;
  }
  return headers;
}
