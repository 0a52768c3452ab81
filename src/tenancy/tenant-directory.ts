import type { Database } from '../db/client.js';
import type { TenantRow } from '../db/schema.js';
import { findTenant } from '../db/tenants.js';

const CACHE_TTL_MS = 5_000;
const MAX_CACHED = 10_000;

/**
 * Answers "may a token act for this tenant, and with which quotas?" for every request, from a
 * short-lived cache so that a busy API does not read the tenants table per request. A tenant that
 * does not exist or is suspended is refused, so a validly signed token for it reaches nothing.
 * Changes made through this process are seen at once; other processes see them within 5 seconds.
 */
export class TenantDirectory {
  private readonly cache = new Map<string, { tenant: TenantRow | undefined; expiresAt: number }>();

  constructor(private readonly db: Database) {}

  /** The tenant when it exists and is active, else undefined. */
  async activeTenant(tenantId: string): Promise<TenantRow | undefined> {
    const now = Date.now();
    const cached = this.cache.get(tenantId);
    const tenant = cached && cached.expiresAt > now ? cached.tenant : await this.load(tenantId, now);
    return tenant?.status === 'ACTIVE' ? tenant : undefined;
  }

  private async load(tenantId: string, now: number): Promise<TenantRow | undefined> {
    const tenant = await findTenant(this.db, tenantId);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(tenantId, { tenant, expiresAt: now + CACHE_TTL_MS });
    return tenant;
  }

  /** Forget what is cached about a tenant, after a change to it. */
  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
  }
}
