import { DEFAULT_PORTAL_SESSION, MAX_PORTAL_SESSION_MS } from '../../auth/portal-session.js';
import { hasScope, RIGHTS, TENANT_SCOPES, type TenantScopeName } from '../../auth/viewer.js';
import { parseDuration } from '../../duration.js';
import { BadUserInputError, ForbiddenError, NotFoundError, UnauthenticatedError } from '../../errors.js';
import type { RequestContext } from '../context.js';
import type { CreatePortalSessionInput, Resolvers } from '../generated/resolvers-types.js';

const READ_SCOPES: readonly TenantScopeName[] = ['events:read', 'subscriptions:read'];

function sessionLifetimeMs(expiresIn: string | null | undefined): number {
  let ms: number;
  try {
    ms = parseDuration(expiresIn ?? DEFAULT_PORTAL_SESSION);
  } catch {
    throw new BadUserInputError('expiresIn must be a duration such as 15m, 1h or 8h', 'expiresIn');
  }
  if (ms < 1_000 || ms > MAX_PORTAL_SESSION_MS) throw new BadUserInputError('expiresIn must be between 1s and 24h', 'expiresIn');
  return ms;
}

/**
 * The tenant and scopes of the session a viewer may start: never wider than the viewer. A full
 * session needs every right of the tenant (an admin token, or a tenant token without scope); a
 * read-only one carries the read scopes the viewer holds.
 */
function sessionGrant(context: RequestContext, input: CreatePortalSessionInput): { tenantId: string; scopes: TenantScopeName[] } {
  const { viewer } = context;
  if (viewer.portalSession) throw new ForbiddenError('A portal session cannot start another portal session');
  const readOnly = input.readOnly === true;
  let tenantId: string;
  if (viewer.isAdmin) {
    const named = input.tenantId ?? viewer.tenantId;
    if (!named) throw new BadUserInputError('tenantId is required with an admin token that names no tenant', 'tenantId');
    tenantId = named;
  } else {
    if (!viewer.tenantId) throw new UnauthenticatedError('The token carries no tenant');
    // Another tenant is not found, as if it did not exist.
    if (input.tenantId && input.tenantId !== viewer.tenantId) throw new NotFoundError('Tenant', input.tenantId);
    tenantId = viewer.tenantId;
  }
  if (!readOnly) {
    if ((viewer.rights & RIGHTS['all-tenant-rights']) === 0) {
      throw new ForbiddenError('A full portal session needs an admin token or a tenant token without scope: ask for readOnly: true, or use such a token');
    }
    return { tenantId, scopes: [...TENANT_SCOPES] };
  }
  const scopes = READ_SCOPES.filter((scope) => hasScope(viewer, scope));
  if (scopes.length === 0) throw new ForbiddenError('A read-only portal session needs a token with events:read or subscriptions:read');
  return { tenantId, scopes };
}

/** The portal's address for a session: the fragment never reaches a server or its logs. */
export function portalSessionUrl(base: string, token: string): string {
  return `${base}/portal/#session=${token}`;
}

export const portalSessionResolvers: Resolvers = {
  Mutation: {
    createPortalSession: async (_parent, { input }, context) => {
      const { tenantId, scopes } = sessionGrant(context, input);
      const lifetimeMs = sessionLifetimeMs(input.expiresIn);
      const signer = context.services.portalSessions;
      if (!signer) {
        throw new ForbiddenError('Portal sessions need AUTH_JWT_SECRET: with only AUTH_JWKS_URL, Hooklane has no key to sign them with (see docs/portal.md)');
      }
      const base = context.services.config.portal.publicUrl ?? context.origin;
      if (!base) throw new BadUserInputError('The request named no valid Host: set PORTAL_PUBLIC_URL for the portal URL');
      const tenant = await context.tenants.activeTenant(tenantId);
      if (!tenant) throw new NotFoundError('Tenant', tenantId);
      const { token, expiresAt } = await signer.sign({
        tenantId,
        scopes,
        readOnly: input.readOnly === true,
        lifetimeMs,
        createdBy: context.viewer.subject,
      });
      return { url: portalSessionUrl(base, token), token, expiresAt };
    },
  },
};
