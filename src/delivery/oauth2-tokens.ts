import { BoundedMap } from '../bounded-map.js';
import type { OAuth2Credentials } from '../domain/endpoint-settings.js';
import type { HttpSender } from './http-sender.js';
import type { AttemptOutcome } from './retry-policy.js';

/** A token from the token endpoint, or why there is none (the attempt's outcome and error). */
export type TokenResult =
  | { ok: true; token: string; expiresInMs: number | null }
  | { ok: false; outcome: AttemptOutcome; error: string };

/** Asks a token endpoint for a token, within `timeoutMs`. */
export type TokenFetcher = (credentials: OAuth2Credentials, timeoutMs: number) => Promise<TokenResult>;

/** A token to send: `fresh` when it was fetched for this request (another 401 will not be helped by fetching again). */
export type TokenLookup = { ok: true; token: string; fresh: boolean } | { ok: false; outcome: AttemptOutcome; error: string };

/** A token without expires_in is kept this long; a 401 from the endpoint replaces it sooner. */
const DEFAULT_LIFETIME_MS = 5 * 60 * 1000;
const MAX_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** A token is fetched again this long before it expires (at most a tenth of its lifetime). */
const REFRESH_MARGIN_MS = 60 * 1000;
const MAX_TOKENS = 4096;

/**
 * The worker's OAuth2 access tokens, per subscription and endpoint settings version (`key`):
 * kept until shortly before they expire, fetched once at a time per key (concurrent deliveries
 * share one token request), and forgotten when the endpoint refuses one. A failure is not kept:
 * the next attempt asks again.
 */
export class OAuth2Tokens {
  private readonly tokens: BoundedMap<string, { token: string; refreshAt: number }>;
  private readonly fetching = new Map<string, Promise<TokenLookup>>();
  private readonly now: () => number;

  constructor(
    private readonly fetchToken: TokenFetcher,
    options: { maxEntries?: number; now?: () => number } = {},
  ) {
    this.tokens = new BoundedMap(options.maxEntries ?? MAX_TOKENS, 'oldest');
    this.now = options.now ?? Date.now;
  }

  async get(key: string, credentials: OAuth2Credentials, timeoutMs: number): Promise<TokenLookup> {
    const kept = this.tokens.get(key);
    if (kept && this.now() < kept.refreshAt) return { ok: true, token: kept.token, fresh: false };
    const underWay = this.fetching.get(key);
    if (underWay) return underWay;
    const fetching = this.fetch(key, credentials, timeoutMs);
    this.fetching.set(key, fetching);
    const settled = () => {
      if (this.fetching.get(key) === fetching) this.fetching.delete(key);
    };
    fetching.then(settled, settled);
    return fetching;
  }

  /** The endpoint refused `token`: forgotten, unless a newer one has replaced it already. */
  invalidate(key: string, token: string): void {
    if (this.tokens.get(key)?.token === token) this.tokens.delete(key);
  }

  private async fetch(key: string, credentials: OAuth2Credentials, timeoutMs: number): Promise<TokenLookup> {
    const fetchedAt = this.now();
    const result = await this.fetchToken(credentials, timeoutMs);
    if (!result.ok) return result;
    const lifetime = Math.min(result.expiresInMs ?? DEFAULT_LIFETIME_MS, MAX_LIFETIME_MS);
    this.tokens.set(key, { token: result.token, refreshAt: fetchedAt + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 10) });
    return { ok: true, token: result.token, fresh: true };
  }
}

/** Token responses are small JSON objects; a JWT access token with many claims fits easily. */
const TOKEN_RESPONSE_LIMIT = 64 * 1024;
/** The token goes into a header: visible ASCII only. */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]{1,16384}$/;

/** RFC 6749 §2.3.1: client id and secret are form-encoded before they are joined for Basic authentication. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** The token endpoint's `error` (RFC 6749 §5.2), when its answer has one: it says what is wrong. */
function oauthErrorOf(body: string | null): string | null {
  try {
    const parsed = JSON.parse(body ?? '') as { error?: unknown; error_description?: unknown };
    if (typeof parsed.error !== 'string') return null;
    const description = typeof parsed.error_description === 'string' ? `: ${parsed.error_description}` : '';
    return `${parsed.error}${description}`.slice(0, 300);
  } catch {
    return null;
  }
}

/**
 * The client credentials grant (RFC 6749 §4.4) through `sender`: the token endpoint is reached as
 * deliveries are (network policy, proxy). Its failures become the attempt's: refused by the network
 * policy or failed at the proxy as such, anything else OAUTH2_ERROR.
 */
export function clientCredentialsFetcher(sender: HttpSender, userAgent: string): TokenFetcher {
  return async (credentials, timeoutMs) => {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (credentials.scope) form.set('scope', credentials.scope);
    if (credentials.audience) form.set('audience', credentials.audience);
    const basic = Buffer.from(`${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret)}`, 'utf8').toString('base64');
    const result = await sender.send({
      url: credentials.tokenUrl,
      body: form.toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'user-agent': userAgent,
        authorization: `Basic ${basic}`,
      },
      timeoutMs,
      responseBodyLimit: TOKEN_RESPONSE_LIMIT,
    });
    const endpoint = new URL(credentials.tokenUrl);
    const where = `token endpoint ${endpoint.origin}${endpoint.pathname}`;
    const failed = (reason: string): TokenResult => ({ ok: false, outcome: { kind: 'oauth2_error', message: `${where}: ${reason}` }, error: `${where}: ${reason}` });
    if (result.outcome.kind === 'refused' || result.outcome.kind === 'proxy_error') {
      const error = `${where}: ${result.error}`;
      return { ok: false, outcome: { ...result.outcome, message: error }, error };
    }
    if (result.outcome.kind !== 'success') {
      const detail = oauthErrorOf(result.responseBody);
      return failed(detail ? `${result.error}: ${detail}` : (result.error ?? 'no token'));
    }
    let answer: { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(result.responseBody ?? '') as typeof answer;
    } catch {
      return failed('the answer is not JSON');
    }
    if (typeof answer.access_token !== 'string' || !HEADER_SAFE_TOKEN.test(answer.access_token)) {
      return failed('the answer has no usable access_token');
    }
    if (answer.token_type !== undefined && (typeof answer.token_type !== 'string' || answer.token_type.toLowerCase() !== 'bearer')) {
      return failed(`token_type ${JSON.stringify(answer.token_type)} is not Bearer`);
    }
    const expiresIn = Number(answer.expires_in);
    const expiresInMs = answer.expires_in !== undefined && Number.isFinite(expiresIn) && expiresIn >= 0 ? expiresIn * 1000 : null;
    return { ok: true, token: answer.access_token, expiresInMs };
  };
}
