import type { Database } from '../db/client.js';
import type { TenantRow } from '../db/schema.js';
import { findTenant } from '../db/tenants.js';
import { RefreshingCache } from '../refreshing-cache.js';

const CACHE_TTL_MS = 5_000;
const MAX_CACHED = 10_000;

/**
 * Answers "may a token act for this tenant, and with which quotas?" for every request, from a
 * short-lived cache so that a busy API does not read the tenants table per request. A tenant that
 * does not exist or is suspended is refused, so a validly signed token for it reaches nothing; so
 * is a token issued before the tenant's `tokensRevokedBefore` (revokeTokens).
 * Changes made through this process are seen at once; other processes see them within 5 seconds
 * (and the requests that arrive while the expired entry is being read again).
 */
export class TenantDirectory {
  private readonly cache = new RefreshingCache<string, TenantRow | undefined>({ ttlMs: CACHE_TTL_MS, maxEntries: MAX_CACHED });

  constructor(private readonly db: Database) {}

  /** The tenant when it exists and is active, else undefined. */
  async activeTenant(tenantId: string): Promise<TenantRow | undefined> {
    const tenant = await this.cache.get(tenantId, () => findTenant(this.db, tenantId));
    return tenant?.status === 'ACTIVE' ? tenant : undefined;
  }

  /** Forget what is cached about a tenant, after a change to it. */
  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
  }
}
