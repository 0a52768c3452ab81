import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { BadUserInputError } from '../errors.js';
import type { EndpointColumns } from '../db/scoped/subscriptions.js';
import { checkSubscriptionUrl } from '../delivery/network-policy.js';
import type { SecretBox } from '../secrets/secret-box.js';

/**
 * A subscription's endpoint settings: extra headers, how deliveries authenticate (bearer, basic,
 * OAuth2 client credentials) and TLS (a client certificate, a private CA). Checked here, stored
 * with their secret parts sealed, and opened by the worker (src/delivery/endpoint-requests.ts).
 */

export const MAX_HEADERS = 20;
/** Names and values of a subscription's headers together, in bytes. */
export const MAX_HEADERS_BYTES = 8 * 1024;
const MAX_HEADER_NAME_LENGTH = 256;
/** RFC 9110 §5.1 field names are tokens (RFC 7230 §3.2.6). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space and tab: no CR, LF or other control characters that could split a request. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Headers Hooklane sets itself, or that would change how the request is framed or routed. Any
 * name starting `webhook-` is reserved too, and `authorization` when the subscription has `auth`.
 */
export const RESERVED_HEADER_NAMES: readonly string[] = [
  'content-type',
  'content-length',
  'host',
  'user-agent',
  'connection',
  'transfer-encoding',
  'traceparent',
  'tracestate',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
];
const RESERVED = new Set(RESERVED_HEADER_NAMES);

const MAX_CREDENTIAL_LENGTH = 4096;
const MAX_TEXT_LENGTH = 1024;
/** Bearer tokens and the like: visible ASCII, no spaces. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

const MAX_CERTIFICATE_PEM_LENGTH = 64 * 1024;
const MAX_KEY_PEM_LENGTH = 16 * 1024;
const MAX_CERTIFICATES = 10;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export interface BearerCredentials {
  token: string;
}
export interface BasicCredentials {
  username: string;
  password: string;
}
export interface OAuth2Credentials {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string | null;
  audience: string | null;
}

export type EndpointAuth =
  | { type: 'BEARER'; credentials: BearerCredentials }
  | { type: 'BASIC'; credentials: BasicCredentials }
  | { type: 'OAUTH2'; credentials: OAuth2Credentials };

export interface EndpointTls {
  /** PEM: the client certificate, then its chain; null with no client certificate. */
  clientCertificate: string | null;
  /** PEM (PKCS#8), unsealed here. */
  clientKey: string | null;
  clientCertificateExpiresAt: Date | null;
  /** PEM: certificates trusted for this endpoint beside the system's. */
  caCertificate: string | null;
}

/** The endpoint settings of a create or update input, checked; absent ones stay absent, null removes. */
export interface EndpointChanges {
  headers?: Record<string, string> | null;
  auth?: EndpointAuth | null;
  tls?: EndpointTls | null;
}

/** The GraphQL input shapes (SubscriptionAuthInput, SubscriptionTlsInput). */
export interface EndpointAuthInput {
  bearer?: { token: string } | null;
  basic?: { username: string; password: string } | null;
  oauth2?: { tokenUrl: string; clientId: string; clientSecret: string; scope?: string | null; audience?: string | null } | null;
}
export interface EndpointTlsInput {
  clientCertificate?: string | null;
  clientKey?: string | null;
  caCertificate?: string | null;
}

export interface EndpointSettingsInput {
  headers?: unknown;
  auth?: EndpointAuthInput | null;
  tls?: EndpointTlsInput | null;
}

export interface EndpointRules {
  allowPrivateNetworks: boolean;
  httpsOnly: boolean;
}

function isReserved(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('webhook-') || RESERVED.has(lower);
}

export function requireHeaders(value: unknown, field = 'headers'): Record<string, string> | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadUserInputError(`${field} must be an object of header name → string value`, field);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return null;
  if (entries.length > MAX_HEADERS) throw new BadUserInputError(`${field} may have at most ${MAX_HEADERS} headers`, field);
  const seen = new Set<string>();
  let bytes = 0;
  for (const [name, headerValue] of entries) {
    const shown = JSON.stringify(name.slice(0, 100));
    if (name.length > MAX_HEADER_NAME_LENGTH || !HEADER_NAME.test(name)) {
      throw new BadUserInputError(`${field}: ${shown} is not a header name (letters, digits and !#$%&'*+.^_\`|~-)`, field);
    }
    if (isReserved(name)) throw new BadUserInputError(`${field}: ${shown} is reserved: Hooklane sets it`, field);
    if (seen.has(name.toLowerCase())) throw new BadUserInputError(`${field}: ${shown} is given twice`, field);
    seen.add(name.toLowerCase());
    if (typeof headerValue !== 'string') throw new BadUserInputError(`${field}: the value of ${shown} must be a string`, field);
    if (!HEADER_VALUE.test(headerValue)) {
      throw new BadUserInputError(`${field}: the value of ${shown} may hold only visible ASCII, spaces and tabs`, field);
    }
    bytes += name.length + headerValue.length;
  }
  if (bytes > MAX_HEADERS_BYTES) throw new BadUserInputError(`${field} may hold at most ${MAX_HEADERS_BYTES} bytes of names and values`, field);
  return Object.fromEntries(entries) as Record<string, string>;
}

function requireCredentialText(value: unknown, field: string, options: { maxLength?: number; optional?: boolean; pattern?: RegExp } = {}): string | null {
  if (value === null || value === undefined || value === '') {
    if (options.optional) return null;
    throw new BadUserInputError(`${field} must not be empty`, field);
  }
  if (typeof value !== 'string') throw new BadUserInputError(`${field} must be a string`, field);
  const maxLength = options.maxLength ?? MAX_TEXT_LENGTH;
  if (value.length > maxLength) throw new BadUserInputError(`${field} must be at most ${maxLength} characters`, field);
  if (options.pattern ? !options.pattern.test(value) : CONTROL_CHARACTERS.test(value)) {
    throw new BadUserInputError(`${field} holds characters that are not allowed${options.pattern ? ' (visible ASCII only, no spaces)' : ' (control characters)'}`, field);
  }
  return value;
}

export function requireAuth(input: EndpointAuthInput | null | undefined, rules: EndpointRules): EndpointAuth | null {
  if (input === null || input === undefined) return null;
  const members = (['bearer', 'basic', 'oauth2'] as const).filter((member) => input[member] !== null && input[member] !== undefined);
  if (members.length !== 1) {
    throw new BadUserInputError('auth must set exactly one of bearer, basic and oauth2 (auth: null removes it)', 'auth');
  }
  if (input.bearer) {
    const token = requireCredentialText(input.bearer.token, 'auth.bearer.token', { maxLength: MAX_CREDENTIAL_LENGTH, pattern: VISIBLE_ASCII })!;
    return { type: 'BEARER', credentials: { token } };
  }
  if (input.basic) {
    const username = requireCredentialText(input.basic.username, 'auth.basic.username')!;
    // RFC 7617: the user-id cannot contain a colon, which separates it from the password.
    if (username.includes(':')) throw new BadUserInputError('auth.basic.username must not contain ":"', 'auth.basic.username');
    const password = requireCredentialText(input.basic.password, 'auth.basic.password', { maxLength: MAX_CREDENTIAL_LENGTH })!;
    return { type: 'BASIC', credentials: { username, password } };
  }
  const oauth2 = input.oauth2!;
  const checked = checkSubscriptionUrl(String(oauth2.tokenUrl ?? ''), rules);
  if (!checked.ok) throw new BadUserInputError(`auth.oauth2.tokenUrl is not accepted: ${checked.reason}`, 'auth.oauth2.tokenUrl');
  return {
    type: 'OAUTH2',
    credentials: {
      tokenUrl: checked.url.toString(),
      clientId: requireCredentialText(oauth2.clientId, 'auth.oauth2.clientId')!,
      clientSecret: requireCredentialText(oauth2.clientSecret, 'auth.oauth2.clientSecret', { maxLength: MAX_CREDENTIAL_LENGTH })!,
      scope: requireCredentialText(oauth2.scope, 'auth.oauth2.scope', { optional: true }),
      audience: requireCredentialText(oauth2.audience, 'auth.oauth2.audience', { optional: true }),
    },
  };
}

/** The certificates of a PEM text (text around the blocks, such as OpenSSL's "Bag Attributes", is left out). */
function requireCertificates(pem: unknown, field: string): X509Certificate[] {
  if (typeof pem !== 'string' || pem.trim() === '') throw new BadUserInputError(`${field} must be PEM text`, field);
  if (pem.length > MAX_CERTIFICATE_PEM_LENGTH) throw new BadUserInputError(`${field} must be at most ${MAX_CERTIFICATE_PEM_LENGTH} characters`, field);
  // A key pasted into the wrong field would be stored unsealed.
  if (pem.includes('PRIVATE KEY')) throw new BadUserInputError(`${field} holds a private key: it belongs in clientKey`, field);
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new BadUserInputError(`${field} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, field);
  if (blocks.length > MAX_CERTIFICATES) throw new BadUserInputError(`${field} may hold at most ${MAX_CERTIFICATES} certificates`, field);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new BadUserInputError(`${field}: certificate ${index + 1} is not a valid X.509 certificate`, field);
    }
  });
}

function requirePrivateKey(pem: unknown, field: string): KeyObject {
  if (typeof pem !== 'string' || pem.trim() === '') throw new BadUserInputError(`${field} must be PEM text`, field);
  if (pem.length > MAX_KEY_PEM_LENGTH) throw new BadUserInputError(`${field} must be at most ${MAX_KEY_PEM_LENGTH} characters`, field);
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    const encrypted = (error as { code?: unknown }).code === 'ERR_MISSING_PASSPHRASE';
    throw new BadUserInputError(
      encrypted ? `${field} is encrypted: give the key without a passphrase (it is stored sealed)` : `${field} is not a PEM private key`,
      field,
    );
  }
}

export function requireTls(input: EndpointTlsInput | null | undefined, now: Date = new Date()): EndpointTls | null {
  if (input === null || input === undefined) return null;
  const { clientCertificate, clientKey, caCertificate } = input;
  const hasCertificate = clientCertificate !== null && clientCertificate !== undefined;
  const hasKey = clientKey !== null && clientKey !== undefined;
  const hasCa = caCertificate !== null && caCertificate !== undefined;
  if (!hasCertificate && !hasKey && !hasCa) {
    throw new BadUserInputError('tls must set clientCertificate and clientKey, caCertificate, or all three (tls: null removes it)', 'tls');
  }
  if (hasCertificate !== hasKey) throw new BadUserInputError('tls.clientCertificate and tls.clientKey go together', hasKey ? 'tls.clientCertificate' : 'tls.clientKey');
  const tls: EndpointTls = { clientCertificate: null, clientKey: null, clientCertificateExpiresAt: null, caCertificate: null };
  if (hasCertificate) {
    const chain = requireCertificates(clientCertificate, 'tls.clientCertificate');
    const key = requirePrivateKey(clientKey, 'tls.clientKey');
    const leaf = chain[0]!;
    if (!leaf.checkPrivateKey(key)) throw new BadUserInputError('tls.clientKey does not match tls.clientCertificate', 'tls.clientKey');
    const expiresAt = new Date(leaf.validTo);
    if (!(expiresAt.getTime() > now.getTime())) {
      throw new BadUserInputError(`tls.clientCertificate expired at ${leaf.validTo}`, 'tls.clientCertificate');
    }
    tls.clientCertificate = chain.map((certificate) => certificate.toString()).join('');
    tls.clientKey = key.export({ format: 'pem', type: 'pkcs8' }).toString();
    tls.clientCertificateExpiresAt = expiresAt;
  }
  if (hasCa) tls.caCertificate = requireCertificates(caCertificate, 'tls.caCertificate').map((certificate) => certificate.toString()).join('');
  return tls;
}

/** The endpoint settings present in `input`, checked (no database needed). */
export function endpointChangesFrom(input: EndpointSettingsInput, rules: EndpointRules): EndpointChanges {
  const changes: EndpointChanges = {};
  if (input.headers !== undefined) changes.headers = requireHeaders(input.headers);
  if (input.auth !== undefined) changes.auth = requireAuth(input.auth, rules);
  if (input.tls !== undefined) changes.tls = requireTls(input.tls);
  return changes;
}

/**
 * What only the settings together can break: an `authorization` header beside `auth`, and TLS
 * settings on a URL that is not https. `current` is the subscription as stored (none on create).
 */
export function checkEndpointCombination(
  changes: EndpointChanges,
  url: string,
  current?: Pick<EndpointColumns, 'headerNames' | 'authType' | 'tlsClientCertificate' | 'tlsCaCertificate'>,
): void {
  const headerNames = changes.headers !== undefined ? Object.keys(changes.headers ?? {}) : (current?.headerNames ?? []);
  const hasAuth = changes.auth !== undefined ? changes.auth !== null : (current?.authType ?? null) !== null;
  if (hasAuth && headerNames.some((name) => name.toLowerCase() === 'authorization')) {
    throw new BadUserInputError('headers: "authorization" is reserved while the subscription has auth', 'headers');
  }
  const hasTls = changes.tls !== undefined ? changes.tls !== null : Boolean(current?.tlsClientCertificate ?? current?.tlsCaCertificate);
  if (hasTls && new URL(url).protocol !== 'https:') {
    throw new BadUserInputError('tls applies to https URLs only', changes.tls !== undefined ? 'tls' : 'url');
  }
}

/** The columns that store `changes`, secrets sealed for the subscription `subscriptionId`. */
export function endpointColumns(changes: EndpointChanges, secretBox: SecretBox, subscriptionId: string): Partial<EndpointColumns> {
  const seal = (plain: string) => secretBox.seal(plain, subscriptionId);
  const columns: Partial<EndpointColumns> = {};
  if (changes.headers !== undefined) {
    columns.headerNames = changes.headers === null ? null : Object.keys(changes.headers);
    columns.headers = changes.headers === null ? null : seal(JSON.stringify(changes.headers));
  }
  if (changes.auth !== undefined) {
    columns.authType = changes.auth?.type ?? null;
    columns.authCredentials = changes.auth === null ? null : seal(JSON.stringify(changes.auth.credentials));
  }
  if (changes.tls !== undefined) {
    columns.tlsClientCertificate = changes.tls?.clientCertificate ?? null;
    columns.tlsClientKey = changes.tls?.clientKey ? seal(changes.tls.clientKey) : null;
    columns.tlsClientCertificateExpiresAt = changes.tls?.clientCertificateExpiresAt ?? null;
    columns.tlsCaCertificate = changes.tls?.caCertificate ?? null;
  }
  return columns;
}
