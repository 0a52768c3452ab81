import type { JWTPayload } from 'jose';

/** Who is calling, derived once per request from a verified token. */
export interface Viewer {
  subject: string | undefined;
  isAdmin: boolean;
  /** The tenant the token acts for; admin tokens may carry none. */
  tenantId: string | undefined;
  /** Scopes narrowing the token; undefined means every right of its tenant. */
  scopes: ReadonlySet<string> | undefined;
  /** When the token was issued (`iat`), in ms since the epoch; 0 for a token without `iat`. */
  issuedAtMs: number;
}

export function viewerFromClaims(claims: JWTPayload, tenantClaim: string): Viewer {
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  const tenant = claims[tenantClaim];
  const scope = claims.scope;
  return {
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    isAdmin: roles.includes('admin'),
    tenantId: typeof tenant === 'string' && tenant.length > 0 ? tenant : undefined,
    scopes: typeof scope === 'string' ? new Set(scope.split(' ').filter(Boolean)) : undefined,
    issuedAtMs: typeof claims.iat === 'number' && Number.isFinite(claims.iat) ? claims.iat * 1000 : 0,
  };
}

/** True when the tenant revoked its tokens issued before a time (revokeTokens) and this one is such. */
export function isRevoked(viewer: Viewer, tokensRevokedBefore: Date | null): boolean {
  return tokensRevokedBefore !== null && viewer.issuedAtMs < tokensRevokedBefore.getTime();
}

export function hasScope(viewer: Viewer, scope: string): boolean {
  return viewer.isAdmin || viewer.scopes === undefined || viewer.scopes.has(scope);
}
