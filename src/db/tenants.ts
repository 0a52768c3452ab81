import { desc, eq, lt } from 'drizzle-orm';
import { newId } from '../ids.js';
import type { Executor } from './client.js';
import { toPage, type Page, type PageRequest } from './pagination.js';
import { tenants, type TenantRow } from './schema.js';

/** The tenants table is the one table above tenant scope: only platform operators reach it. */
export async function createTenant(db: Executor, name: string): Promise<TenantRow> {
  const [row] = await db.insert(tenants).values({ id: newId('tenant'), name }).returning();
  return row!;
}

export async function findTenant(db: Executor, id: string): Promise<TenantRow | undefined> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row;
}

export async function listTenants(db: Executor, page: PageRequest): Promise<Page<TenantRow>> {
  const rows = await db
    .select()
    .from(tenants)
    .where(page.afterId ? lt(tenants.id, page.afterId) : undefined)
    .orderBy(desc(tenants.id))
    .limit(page.first + 1);
  return toPage(rows, page.first);
}
