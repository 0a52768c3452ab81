import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { newId } from '../ids.js';
import type { Database } from './client.js';
import { platformTransaction } from './tenant-scope.js';
import { toPage, type Page, type PageRequest } from './pagination.js';
import { auditLog, platformAuditLog, tenants, type AuditLogRow, type TenantRow, type TenantStatus } from './schema.js';

/** The tenants table is the one table above tenant scope: only platform operators reach it. */
export async function createTenant(db: Database, name: string): Promise<TenantRow> {
  const [row] = await platformTransaction(db, (tx) => tx.insert(tenants).values({ id: newId('tenant'), name }).returning());
  return row!;
}

export async function findTenant(db: Database, id: string): Promise<TenantRow | undefined> {
  const [row] = await platformTransaction(db, (tx) => tx.select().from(tenants).where(eq(tenants.id, id)));
  return row;
}

export async function listTenants(db: Database, page: PageRequest): Promise<Page<TenantRow>> {
  const rows = await platformTransaction(db, (tx) =>
    tx
      .select()
      .from(tenants)
      .where(page.afterId ? lt(tenants.id, page.afterId) : undefined)
      .orderBy(desc(tenants.id))
      .limit(page.first + 1),
  );
  return toPage(rows, page.first);
}

export async function setTenantStatus(db: Database, id: string, status: TenantStatus): Promise<TenantRow | undefined> {
  const [row] = await platformTransaction(db, (tx) => tx.update(tenants).set({ status }).where(eq(tenants.id, id)).returning());
  return row;
}

/**
 * Refuses the tenant's tokens issued before `issuedBefore` (revokeTokens). The cutoff only moves
 * forward: an earlier one than the tenant's changes nothing, so no call lets a revoked token back in.
 */
export async function revokeTenantTokens(db: Database, id: string, issuedBefore: Date): Promise<TenantRow | undefined> {
  const [row] = await platformTransaction(db, (tx) =>
    tx
      .update(tenants)
      .set({ tokensRevokedBefore: sql`greatest(${tenants.tokensRevokedBefore}, ${issuedBefore.toISOString()}::timestamptz)` })
      .where(eq(tenants.id, id))
      .returning(),
  );
  return row;
}

export type QuotaOverrides = Partial<
  Pick<
    TenantRow,
    | 'quotaPublishRate'
    | 'quotaPublishBurst'
    | 'quotaEventsPerMonth'
    | 'quotaSubscriptions'
    | 'quotaEventTypes'
    | 'quotaPayloadBytes'
    | 'quotaDeliveriesInFlight'
    | 'quotaRetentionMs'
  >
>;

export async function updateTenantQuotas(db: Database, id: string, overrides: QuotaOverrides): Promise<TenantRow | undefined> {
  if (Object.keys(overrides).length === 0) return findTenant(db, id);
  const [row] = await platformTransaction(db, (tx) => tx.update(tenants).set(overrides).where(eq(tenants.id, id)).returning());
  return row;
}

/**
 * Erasure: deletes the tenant; foreign keys and hooklane_delete_dependents cascade to every row it
 * owns (event types, subscriptions, events, deliveries, attempts, idempotency keys, usage, audit
 * log). Its queued jobs find nothing and end.
 */
export async function deleteTenant(db: Database, id: string): Promise<boolean> {
  const rows = await platformTransaction(db, (tx) => tx.delete(tenants).where(eq(tenants.id, id)).returning({ id: tenants.id }));
  return rows.length > 0;
}

/**
 * Records a management mutation in its tenant's audit log, or, without a tenant (a tenant's
 * deletion, which must outlive the tenant's own log), in the platform's.
 */
export async function writeAuditEntry(
  db: Database,
  entry: Omit<typeof auditLog.$inferInsert, 'id' | 'createdAt' | 'tenantId'> & { tenantId: string | null },
): Promise<void> {
  const { tenantId, ...rest } = entry;
  await platformTransaction(db, (tx) =>
    tenantId === null
      ? tx.insert(platformAuditLog).values({ id: newId('audit'), ...rest })
      : tx.insert(auditLog).values({ id: newId('audit'), tenantId, ...rest }),
  );
}

export async function listAuditEntries(db: Database, tenantId: string, page: PageRequest): Promise<Page<AuditLogRow>> {
  const rows = await platformTransaction(db, (tx) =>
    tx
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.tenantId, tenantId), page.afterId ? lt(auditLog.id, page.afterId) : undefined))
      .orderBy(desc(auditLog.id))
      .limit(page.first + 1),
  );
  return toPage(rows, page.first);
}

export interface TenantUsageRow {
  tenantId: string;
  eventsThisMonth: number;
  subscriptions: number;
  eventTypes: number;
  pendingDeliveries: number;
  deliveriesInFlight: number;
}

/** Usage of many tenants in one query (the admin `tenants` list must not query per row). */
export async function usageOfTenants(db: Database, tenantIds: readonly string[], period: string): Promise<Map<string, TenantUsageRow>> {
  if (tenantIds.length === 0) return new Map();
  const rows = (await platformTransaction(db, (tx) =>
    tx.execute(sql`
      select t.id as "tenantId",
        coalesce((select u.events from tenant_usage u where u.tenant_id = t.id and u.period = ${period}), 0)::int as "eventsThisMonth",
        (select count(*) from subscriptions s where s.tenant_id = t.id)::int as "subscriptions",
        (select count(*) from event_types e where e.tenant_id = t.id)::int as "eventTypes",
        (select count(*) from deliveries d where d.tenant_id = t.id and d.status = 'PENDING')::int as "pendingDeliveries",
        (select count(*) from deliveries d where d.tenant_id = t.id and d.status = 'PENDING' and d.claimed_until > now())::int as "deliveriesInFlight"
      from tenants t
      where t.id in (${sql.join(
        tenantIds.map((id) => sql`${id}`),
        sql`, `,
      )})`),
  )) as unknown as TenantUsageRow[];
  return new Map(rows.map((row) => [row.tenantId, row]));
}
