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

/** Request headers: Node's `req.headers`, a plain object (any casing) or a fetch `Headers`. */
export type WebhookHeaders = Record<string, string | string[] | undefined> | { get(name: string): string | null };

/** The body exactly as received: a string, bytes (a Node `Buffer` is a `Uint8Array`) or an `ArrayBuffer`. */
export type WebhookBody = string | Uint8Array | ArrayBuffer;

export interface VerifyOptions {
  /** How far the `webhook-timestamp` may be from `now`, either way (default 300 seconds). */
  toleranceSeconds?: number;
  /** The current time (default: the clock). */
  now?: Date;
}

/**
 * The two signature checks of Standard Webhooks, done by whichever crypto the runtime offers
 * (src/web-crypto.ts, src/node-crypto.ts). Each compares in constant time and answers false,
 * never throws, for a signature that does not verify.
 */
export interface SignatureCrypto {
  /** Whether `signature` is the HMAC-SHA256 of `content` under `key` (a `v1` signature). */
  verifyHmacSha256(key: Uint8Array, content: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** Whether `signature` is the Ed25519 signature of `content` by the 32-byte `publicKey` (a `v1a` signature). */
  verifyEd25519(publicKey: Uint8Array, content: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

type VerificationKey = { version: 'v1' | 'v1a'; bytes: Uint8Array };

const HMAC_SECRET_PREFIX = 'whsec_';
const ED25519_PUBLIC_KEY_PREFIX = 'whpk_';
const ED25519_PUBLIC_KEY_LENGTH = 32;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
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

/** Base64 to bytes with the platform's `atob` (Node, Deno, Bun, browsers and edge runtimes all have it); undefined when malformed. */
function base64Bytes(encoded: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(encoded);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** `whsec_…` (or bare base64) is an HMAC secret; `whpk_…` an Ed25519 public key. */
function verificationKey(secret: string): VerificationKey {
  const ed25519 = secret.startsWith(ED25519_PUBLIC_KEY_PREFIX);
  const encoded = ed25519 ? secret.slice(ED25519_PUBLIC_KEY_PREFIX.length) : secret.startsWith(HMAC_SECRET_PREFIX) ? secret.slice(HMAC_SECRET_PREFIX.length) : secret;
  const bytes = BASE64.test(encoded) ? base64Bytes(encoded) : undefined;
  if (!bytes) {
    throw new WebhookVerificationError('INVALID_SECRET', 'A secret is `whsec_` (or, for Ed25519, a `whpk_` public key) followed by base64');
  }
  if (ed25519 && bytes.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new WebhookVerificationError('INVALID_SECRET', `An Ed25519 public key is ${ED25519_PUBLIC_KEY_LENGTH} bytes`);
  }
  if (bytes.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'The secret is empty');
  return { version: ed25519 ? 'v1a' : 'v1', bytes };
}

function bodyBytes(rawBody: WebhookBody): Uint8Array {
  if (typeof rawBody === 'string') return new TextEncoder().encode(rawBody);
  if (rawBody instanceof Uint8Array) return rawBody;
  return new Uint8Array(rawBody);
}

/** `{webhook-id}.{webhook-timestamp}.{body}`, the bytes every signature covers. */
function signedContent(id: string, timestamp: string, body: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix);
  content.set(body, prefix.length);
  return content;
}

/** The `v1,<base64>` and `v1a,<base64>` entries of `webhook-signature`; other versions and malformed entries are skipped. */
function signatureEntries(header: string): VerificationKey[] {
  const entries: VerificationKey[] = [];
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',');
    const version = entry.slice(0, comma);
    if (comma < 0 || (version !== 'v1' && version !== 'v1a')) continue;
    const bytes = base64Bytes(entry.slice(comma + 1));
    if (bytes) entries.push({ version, bytes });
  }
  return entries;
}

/** {@link verifyWebhook} on the given crypto: each entry point (src/index.ts, src/node.ts) passes its own. */
export async function verifyWebhookWith<TData = unknown>(
  crypto: SignatureCrypto,
  rawBody: WebhookBody,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyOptions = {},
): Promise<WebhookPayload<TData>> {
  const secrets = typeof secret === 'string' ? [secret] : [...secret];
  if (secrets.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'No secret was given');
  const keys = secrets.map(verificationKey);

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

  const body = bodyBytes(rawBody);
  const content = signedContent(id, timestampHeader, body);
  // Checks every pair rather than stopping at the first match: no timing signal about which matched.
  const checks: Array<Promise<boolean>> = [];
  for (const signature of signatureEntries(signatureHeader)) {
    for (const key of keys) {
      if (key.version !== signature.version) continue;
      checks.push(
        key.version === 'v1'
          ? crypto.verifyHmacSha256(key.bytes, content, signature.bytes)
          : crypto.verifyEd25519(key.bytes, content, signature.bytes),
      );
    }
  }
  const results = await Promise.all(checks);
  if (!results.includes(true)) {
    throw new WebhookVerificationError('INVALID_SIGNATURE', 'No webhook-signature matches the secret');
  }

  try {
    return JSON.parse(new TextDecoder().decode(body)) as WebhookPayload<TData>;
  } catch {
    throw new WebhookVerificationError('INVALID_PAYLOAD', 'The signed body is not JSON');
  }
}
