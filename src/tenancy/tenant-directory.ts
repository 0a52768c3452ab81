import type { Database } from '../db/client.js';
import { findTenant } from '../db/tenants.js';

const CACHE_TTL_MS = 5_000;
const MAX_CACHED = 10_000;

/**
 * Answers "may a token act for this tenant?" for every request, from a short-lived cache so
 * that a busy API does not read the tenants table per request. A tenant that does not exist is
 * refused, so a validly signed token for a made-up tenant id reaches no data and writes nothing.
 */
export class TenantDirectory {
  private readonly cache = new Map<string, { active: boolean; expiresAt: number }>();

  constructor(private readonly db: Database) {}

  async isActive(tenantId: string): Promise<boolean> {
    const now = Date.now();
    const cached = this.cache.get(tenantId);
    if (cached && cached.expiresAt > now) return cached.active;
    const tenant = await findTenant(this.db, tenantId);
    const active = tenant !== undefined;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(tenantId, { active, expiresAt: now + CACHE_TTL_MS });
    return active;
  }

  /** Forget what is cached about a tenant, after a change to it. */
  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
  }
}
