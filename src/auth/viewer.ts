import type { JWTPayload } from 'jose';

/** The rights a tenant token's `scope` can name; a tenant token without `scope` has all of them. */
export const TENANT_SCOPES = ['events:publish', 'events:read', 'subscriptions:read', 'subscriptions:write'] as const;
export type TenantScopeName = (typeof TENANT_SCOPES)[number];

/**
 * Rights as bits: every field of every answer is checked against the viewer's rights (see
 * src/api/field-access.ts), and a bit test keeps that check free of allocations.
 */
export const RIGHTS = {
  /** Every verified token has this one, whatever its scope. */
  token: 1 << 0,
  /** Platform operators (`roles: ["admin"]`). */
  admin: 1 << 1,
  'events:publish': 1 << 2,
  'events:read': 1 << 3,
  'subscriptions:read': 1 << 4,
  'subscriptions:write': 1 << 5,
  /** Every right of the tenant at once: a tenant token without `scope`, or an admin token (revokeTokens). */
  'all-tenant-rights': 1 << 6,
} as const satisfies Record<string, number>;
export type RightName = keyof typeof RIGHTS;

const ALL_TENANT_SCOPES = TENANT_SCOPES.reduce((bits, scope) => bits | RIGHTS[scope], 0);

/** Who is calling, derived once per request from a verified token. */
export interface Viewer {
  subject: string | undefined;
  isAdmin: boolean;
  /** The tenant the token acts for; admin tokens may carry none. */
  tenantId: string | undefined;
  /** RIGHTS bits: an admin token has them all; a tenant token every tenant scope, or those its `scope` names. */
  rights: number;
  /** When the token was issued (`iat`), in ms since the epoch; 0 for a token without `iat`. */
  issuedAtMs: number;
  /** A portal session (createPortalSession): it may not start another one. */
  portalSession: boolean;
  /** A read-only portal session: every mutation is refused (see fieldAccessPlugin). */
  readOnly: boolean;
}

/** The claims a portal session token carries beside its tenant, `scope`, `iat` and `exp` (src/auth/portal-session.ts). */
export const PORTAL_SESSION_CLAIM = 'hooklane_portal';
export const READ_ONLY_CLAIM = 'read_only';

function rightsOf(isAdmin: boolean, scope: unknown): number {
  if (isAdmin) return RIGHTS.token | RIGHTS.admin | RIGHTS['all-tenant-rights'] | ALL_TENANT_SCOPES;
  if (typeof scope !== 'string') return RIGHTS.token | RIGHTS['all-tenant-rights'] | ALL_TENANT_SCOPES;
  let rights: number = RIGHTS.token;
  for (const name of scope.split(' ')) {
    if ((TENANT_SCOPES as readonly string[]).includes(name)) rights |= RIGHTS[name as TenantScopeName];
  }
  return rights;
}

export function viewerFromClaims(claims: JWTPayload, tenantClaim: string): Viewer {
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  const tenant = claims[tenantClaim];
  const isAdmin = roles.includes('admin');
  return {
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    isAdmin,
    tenantId: typeof tenant === 'string' && tenant.length > 0 ? tenant : undefined,
    rights: rightsOf(isAdmin, claims.scope),
    issuedAtMs: typeof claims.iat === 'number' && Number.isFinite(claims.iat) ? claims.iat * 1000 : 0,
    portalSession: claims[PORTAL_SESSION_CLAIM] === true,
    readOnly: claims[READ_ONLY_CLAIM] === true,
  };
}

/** True when the tenant revoked its tokens issued before a time (revokeTokens) and this one is such. */
export function isRevoked(viewer: Viewer, tokensRevokedBefore: Date | null): boolean {
  return tokensRevokedBefore !== null && viewer.issuedAtMs < tokensRevokedBefore.getTime();
}

export function hasScope(viewer: Viewer, scope: TenantScopeName): boolean {
  return (viewer.rights & RIGHTS[scope]) !== 0;
}
