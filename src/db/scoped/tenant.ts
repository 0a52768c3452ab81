import { and, eq, sql } from 'drizzle-orm';
import type { Run } from '../client.js';
import { deliveries, eventTypes, subscriptions, tenants, tenantUsage, type TenantRow } from '../schema.js';

export interface PublishBudget {
  rate: number;
  burst: number;
  monthlyLimit: number;
}

export type Reservation =
  | { ok: true }
  | { ok: false; quota: 'publishRate'; retryAfterSeconds: number | undefined }
  | { ok: false; quota: 'eventsPerMonth'; retryAfterSeconds: number };

/** The calendar month (UTC) usage is counted in, e.g. `2026-11`. */
export function usagePeriod(at: Date = new Date()): string {
  return at.toISOString().slice(0, 7);
}

function secondsUntilNextMonth(at: Date = new Date()): number {
  const next = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - at.getTime()) / 1000));
}

/** The tenant's own row and counters, as its scope may see them. */
export class TenantStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  async get(): Promise<TenantRow | undefined> {
    const [row] = await this.run((db) => db.select().from(tenants).where(eq(tenants.id, this.tenantId)));
    return row;
  }

  /** Locks the tenant's row until the transaction ends: count-then-insert quotas hold across API processes. */
  async lock(): Promise<void> {
    await this.run((db) => db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, this.tenantId)).for('update'));
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

  async usage(): Promise<{ eventsThisMonth: number; pendingDeliveries: number; deliveriesInFlight: number }> {
    const [row] = await this.run((db) =>
      db
        .select({
          eventsThisMonth: sql<number>`coalesce((select ${tenantUsage.events} from ${tenantUsage}
            where ${tenantUsage.tenantId} = ${this.tenantId} and ${tenantUsage.period} = ${usagePeriod()}), 0)::int`,
          pendingDeliveries: sql<number>`(select count(*) from ${deliveries}
            where ${deliveries.tenantId} = ${this.tenantId} and ${deliveries.status} = 'PENDING')::int`,
          deliveriesInFlight: sql<number>`(select count(*) from ${deliveries}
            where ${deliveries.tenantId} = ${this.tenantId} and ${deliveries.claimedUntil} > now())::int`,
        })
        .from(tenants)
        .where(eq(tenants.id, this.tenantId)),
    );
    return row ?? { eventsThisMonth: 0, pendingDeliveries: 0, deliveriesInFlight: 0 };
  }

  /**
   * Takes `count` events from the publish-rate bucket and the month's allowance, each in one
   * atomic statement so that every API process shares one budget. On refusal nothing is kept.
   */
  async reservePublish(count: number, budget: PublishBudget): Promise<Reservation> {
    const burst = sql`coalesce(${tenants.quotaPublishBurst}, ${budget.burst})::float8`;
    const rate = sql`coalesce(${tenants.quotaPublishRate}, ${budget.rate})::float8`;
    const refilled = sql`least(${burst}, coalesce(${tenants.publishTokens}, ${burst})
      + extract(epoch from clock_timestamp() - coalesce(${tenants.publishTokensAt}, clock_timestamp())) * ${rate})`;
    const [taken] = await this.run((db) =>
      db
        .update(tenants)
        .set({ publishTokens: sql`${refilled} - ${count}`, publishTokensAt: sql`clock_timestamp()` })
        .where(and(eq(tenants.id, this.tenantId), sql`${refilled} >= ${count}`))
        .returning({ id: tenants.id }),
    );
    if (!taken) {
      const [state] = await this.run((db) =>
        db
          .select({ tokens: sql<number>`${refilled}`, rate: sql<number>`${rate}`, burst: sql<number>`${burst}` })
          .from(tenants)
          .where(eq(tenants.id, this.tenantId)),
      );
      if (!state || count > Number(state.burst)) return { ok: false, quota: 'publishRate', retryAfterSeconds: undefined };
      const wait = (count - Number(state.tokens)) / Number(state.rate);
      return { ok: false, quota: 'publishRate', retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
    }

    const period = usagePeriod();
    const [counted] =
      count > budget.monthlyLimit
        ? []
        : await this.run((db) =>
            db
              .insert(tenantUsage)
              .values({ tenantId: this.tenantId, period, events: count })
              .onConflictDoUpdate({
                target: [tenantUsage.tenantId, tenantUsage.period],
                set: { events: sql`${tenantUsage.events} + excluded.events` },
                setWhere: sql`${tenantUsage.events} + excluded.events <= ${budget.monthlyLimit}`,
              })
              .returning({ events: tenantUsage.events }),
          );
    if (!counted) {
      await this.refundRate(count);
      return { ok: false, quota: 'eventsPerMonth', retryAfterSeconds: secondsUntilNextMonth() };
    }
    return { ok: true };
  }

  /** Gives back a reservation whose publish did not happen. */
  async refundPublish(count: number): Promise<void> {
    await this.refundRate(count);
    await this.run((db) =>
      db
        .update(tenantUsage)
        .set({ events: sql`greatest(0, ${tenantUsage.events} - ${count})` })
        .where(and(eq(tenantUsage.tenantId, this.tenantId), eq(tenantUsage.period, usagePeriod()))),
    );
  }

  private async refundRate(count: number): Promise<void> {
    await this.run((db) =>
      db
        .update(tenants)
        .set({ publishTokens: sql`${tenants.publishTokens} + ${count}` })
        .where(eq(tenants.id, this.tenantId)),
    );
  }
}
