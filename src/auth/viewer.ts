import type { JWTPayload } from 'jose';

/** Who is calling, derived once per request from a verified token. */
export interface Viewer {
  subject: string | undefined;
  isAdmin: boolean;
  /** The tenant the token acts for; admin tokens may carry none. */
  tenantId: string | undefined;
  /** Scopes narrowing the token; undefined means every right of its tenant. */
  scopes: ReadonlySet<string> | undefined;
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
  };
}

export function hasScope(viewer: Viewer, scope: string): boolean {
  return viewer.isAdmin || viewer.scopes === undefined || viewer.scopes.has(scope);
}
