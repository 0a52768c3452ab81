import { eq, sql } from 'drizzle-orm';
import type { Run } from '../client.js';
import { eventTypes, subscriptions, tenants } from '../schema.js';

/** The calendar month (UTC) usage is counted in, e.g. `2026-11`. */
export function usagePeriod(at: Date = new Date()): string {
  return at.toISOString().slice(0, 7);
}

/** The tenant's own row and counters, as its scope may see them. */
export class TenantStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  /** Locks the tenant's row until the transaction ends: count-then-insert quotas hold across API processes. */
  async lock(): Promise<void> {
    await this.run((db) => db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, this.tenantId)).for('no key update'));
  }

  async countSubscriptions(): Promise<number> {
    const [row] = await this.run((db) =>
      db.select({ count: sql<number>`count(*)::int` }).from(subscriptions).where(eq(subscriptions.tenantId, this.tenantId)),
    );
    return row?.count ?? 0;
  }

  async countEventTypes(): Promise<number> {
    const [row] = await this.run((db) =>
      db.select({ count: sql<number>`count(*)::int` }).from(eventTypes).where(eq(eventTypes.tenantId, this.tenantId)),
    );
    return row?.count ?? 0;
  }
}
