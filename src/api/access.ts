import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../errors.js';
import { effectiveQuotas, type Quotas } from '../tenancy/quotas.js';
import { hasScope, RIGHTS, type TenantScopeName } from '../auth/viewer.js';
import { TenantScope } from '../db/tenant-scope.js';
import type { RequestContext } from './context.js';

export type TenantRight = TenantScopeName;

/**
 * The tenant a request acts for, with the right it needs checked. Admin tokens act for the tenant
 * they name (`tenant_id` claim, or a `tenantId` argument where the schema offers one).
 */
export function tenantScopeFor(context: RequestContext, right: TenantRight, explicitTenantId?: string | null): TenantScope {
  const { viewer } = context;
  if (explicitTenantId && !viewer.isAdmin) throw new ForbiddenError('Only admin tokens may name a tenantId');
  const tenantId = (viewer.isAdmin && explicitTenantId) || viewer.tenantId;
  if (!tenantId) {
    throw viewer.isAdmin
      ? new ForbiddenError('This admin token names no tenant: pass tenantId or use a tenant token')
      : new UnauthenticatedError('The token carries no tenant');
  }
  if (!hasScope(viewer, right)) throw new ForbiddenError(`This token lacks the ${right} scope`);
  return new TenantScope(context.services.db, tenantId);
}

/**
 * tenantScopeFor, on the read pool (DATABASE_READ_URL; the primary without it): for queries that
 * only read and tolerate a replica's lag (lists, stats, the catalog). The same checks, the same
 * tenant filters and row-level security; its transactions are read-only. A read that must see the
 * caller's own writes (a get by id, anything before a write) uses tenantScopeFor.
 */
export function tenantReaderFor(context: RequestContext, right: TenantRight, explicitTenantId?: string | null): TenantScope {
  const scope = tenantScopeFor(context, right, explicitTenantId);
  return context.services.reader === context.services.db ? scope : new TenantScope(context.services.reader, scope.tenantId);
}

/**
 * The tenant scope plus the tenant's quotas, for mutations that spend them. A tenant named by an
 * admin token must exist and be active, else NOT_FOUND (a tenant token's own tenant was checked
 * when the request was authenticated).
 */
export async function tenantWithQuotas(
  context: RequestContext,
  right: TenantRight,
  explicitTenantId?: string | null,
): Promise<{ scope: TenantScope; quotas: Quotas }> {
  const scope = tenantScopeFor(context, right, explicitTenantId);
  const tenant = await context.tenants.activeTenant(scope.tenantId);
  if (!tenant) throw new NotFoundError('Tenant', scope.tenantId);
  return { scope, quotas: effectiveQuotas(tenant, context.services.config.quotas) };
}

/**
 * For actions on a tenant itself that the tenant may take: admin tokens for any tenant, a tenant
 * token without `scope` for its own. Another tenant is NOT_FOUND, as if it did not exist.
 */
export function requireAdminOrUnscopedOwnTenant(context: RequestContext, tenantId: string): void {
  const { viewer } = context;
  if (viewer.isAdmin) return;
  if (!viewer.tenantId) throw new UnauthenticatedError('The token carries no tenant');
  if ((viewer.rights & RIGHTS['all-tenant-rights']) === 0) throw new ForbiddenError('Only admin tokens and tenant tokens without scope may do this');
  if (viewer.tenantId !== tenantId) throw new NotFoundError('Tenant', tenantId);
}

export function requireAdmin(context: RequestContext): void {
  if (!context.viewer.isAdmin) throw new ForbiddenError('Admin tokens only');
}
