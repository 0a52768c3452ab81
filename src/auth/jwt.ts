import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { errors as joseErrors } from 'jose';
import type { Config } from '../config.js';
import { BoundedMap } from '../bounded-map.js';
import { PORTAL_SESSION_CLAIM } from './viewer.js';

export const CLOCK_SKEW_SECONDS = 60;
const JWKS_REFETCH_COOLDOWN_MS = 2_000;
const JWKS_MAX_AGE_MS = 10 * 60 * 1000;
const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

export class TokenError extends Error {
  override readonly name = 'TokenError';
}

const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** Verifies bearer tokens against the configured HS256 secret or JWKS; never accepts `alg: none`. */
export class TokenVerifier {
  /** The HS256 secret, imported once: importing it at every request cost more than the HMAC itself. */
  private readonly secret: Promise<CryptoKey> | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;

  constructor(private readonly auth: Omit<Config['auth'], 'jwtSecret' | 'audienceAny'> & { jwtSecret: string | undefined }) {
    this.secret = auth.jwtSecret
      ? crypto.subtle.importKey('raw', new TextEncoder().encode(auth.jwtSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      : undefined;
    // An unknown `kid` refetches the key set (an identity provider rotated its keys), at most
    // once per JWKS_REFETCH_COOLDOWN_MS so that forged kids cannot hammer the provider.
    this.jwks = auth.jwksUrl
      ? createRemoteJWKSet(new URL(auth.jwksUrl), { cooldownDuration: JWKS_REFETCH_COOLDOWN_MS, cacheMaxAge: JWKS_MAX_AGE_MS })
      : undefined;
    if (!this.secret && !this.jwks) throw new Error('TokenVerifier needs AUTH_JWT_SECRET or AUTH_JWKS_URL');
  }

  /**
   * Tokens verified in the last VERIFIED_TOKEN_TTL_MS (never past their `exp`): a backend sends the
   * same token with every call, and checking its signature each time cost more than its publish.
   * The tenant's status is still looked up at every request (TenantDirectory), so suspension still works.
   */
  private readonly verified = new BoundedMap<string, { payload: JWTPayload; until: number }>(VERIFIED_TOKEN_CACHE_SIZE);

  async verify(token: string): Promise<JWTPayload> {
    const now = Date.now();
    const known = this.verified.get(token);
    if (known && now < known.until) return known.payload;
    const payload = await this.verifySignatureAndClaims(token);
    const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, payload.exp === undefined ? Infinity : payload.exp * 1000);
    this.verified.set(token, { payload, until });
    return payload;
  }

  private async verifySignatureAndClaims(token: string): Promise<JWTPayload> {
    const options = {
      issuer: this.auth.issuer,
      audience: this.auth.audience,
      clockTolerance: CLOCK_SKEW_SECONDS,
    };
    try {
      if (this.jwks && this.secret && isHs256(token)) {
        // With an identity provider, AUTH_JWT_SECRET signs portal sessions only (createPortalSession):
        // any other HS256 token is refused, admin tokens and tenant tokens included.
        const { payload } = await jwtVerify(token, await this.secret, { ...options, algorithms: ['HS256'] });
        if (payload[PORTAL_SESSION_CLAIM] !== true || payload.roles !== undefined) {
          throw new TokenError('With AUTH_JWKS_URL, HS256 tokens are accepted for portal sessions only');
        }
        return payload;
      }
      if (this.jwks) {
        // A JWKS never verifies HS tokens: that would let a public key act as a shared secret.
        const { payload } = await jwtVerify(token, this.jwks, { ...options, algorithms: ASYMMETRIC_ALGORITHMS });
        return payload;
      }
      const { payload } = await jwtVerify(token, await this.secret!, { ...options, algorithms: ['HS256'] });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) throw new TokenError(describeJoseError(error));
      throw error;
    }
  }
}

function isHs256(token: string): boolean {
  try {
    return decodeProtectedHeader(token).alg === 'HS256';
  } catch {
    return false; // malformed: the JWKS path says so
  }
}

function describeJoseError(error: InstanceType<typeof joseErrors.JOSEError>): string {
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is invalid';
  return 'The token is malformed or not accepted';
}

/** Signs an HS256 token, for the token command and the tests. */
export async function signHs256Token(
  secret: string,
  claims: JWTPayload,
  options: { expiresIn?: string | number; issuer?: string; audience?: string } = {},
): Promise<string> {
  // `iat` to the millisecond (a NumericDate may have a fraction): a token signed right after a
  // revokeTokens call is issued after its cutoff, not in the same whole second.
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(Date.now() / 1000);
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
