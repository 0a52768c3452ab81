import { sql } from 'drizzle-orm';
import type { Database, Executor, Run } from './client.js';
import { DeliveryStore } from './scoped/deliveries.js';
import { DeliveryStatsStore } from './scoped/delivery-stats.js';
import { EventStore } from './scoped/events.js';
import { EventTypeStore } from './scoped/event-types.js';
import { SubscriptionStore } from './scoped/subscriptions.js';
import { TenantStore } from './scoped/tenant.js';

/**
 * The one way to reach a tenant's data, and the first of two walls between tenants: every store
 * it hands out filters and writes by the tenant id it was built with, so another tenant's rows are
 * simply not there. The second wall is PostgreSQL row-level security: every unit of work runs in
 * a transaction that declares the tenant (`hooklane.tenant_id`), and the application's database
 * role sees only that tenant's rows, so a query that forgot its tenant filter still finds nothing.
 */
export class TenantScope {
  readonly eventTypes: EventTypeStore;
  readonly subscriptions: SubscriptionStore;
  readonly events: EventStore;
  readonly deliveries: DeliveryStore;
  readonly stats: DeliveryStatsStore;
  readonly tenant: TenantStore;

  /**
   * @param executor the database, or the transaction this scope is bound to.
   * @param bound true when `executor` is a transaction that already declared this tenant.
   */
  constructor(
    private readonly executor: Executor,
    readonly tenantId: string,
    private readonly bound = false,
  ) {
    const run: Run = (work) => (this.bound ? Promise.resolve(work(this.executor)) : this.transaction((_scope, tx) => work(tx)));
    // Stores given `executor` call functions that declare the tenant themselves (src/db/functions):
    // one statement, no wrapping transaction.
    this.eventTypes = new EventTypeStore(run, tenantId);
    this.subscriptions = new SubscriptionStore(run, tenantId);
    this.events = new EventStore(run, tenantId, executor);
    this.deliveries = new DeliveryStore(run, tenantId, executor);
    this.stats = new DeliveryStatsStore(run, tenantId);
    this.tenant = new TenantStore(run, tenantId);
  }

  /** True when this scope is bound to a transaction already open. */
  get inTransaction(): boolean {
    return this.bound;
  }

  /**
   * Runs `work` in one transaction that declares the tenant, with a scope bound to it; `tx` is for
   * job enqueueing. Inside a bound scope it joins the transaction already open.
   */
  async transaction<T>(work: (scope: TenantScope, tx: Executor) => PromiseLike<T>): Promise<T> {
    if (this.bound) return work(this, this.executor);
    return (this.executor as Database).transaction(async (tx) => {
      await tx.execute(sql`select set_config('hooklane.tenant_id', ${this.tenantId}, true)`);
      return work(new TenantScope(tx, this.tenantId, true), tx);
    });
  }
}

/**
 * Work above any one tenant (the tenants table, platform operators, erasure). The transaction
 * declares `hooklane.platform`, which the row-level security policies let through.
 */
export async function platformTransaction<T>(db: Database, work: (tx: Executor) => PromiseLike<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('hooklane.platform', 'on', true)`);
    return work(tx);
  });
}
