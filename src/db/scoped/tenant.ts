import { and, eq, sql } from 'drizzle-orm';
import type { Executor, Run } from '../client.js';
import { eventTypes, subscriptions, tenants, tenantUsage } from '../schema.js';

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
    /** For functions that declare the tenant themselves. */
    private readonly direct: Executor,
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

  /**
   * Takes `count` events from the publish-rate bucket and the month's allowance, each in one
   * atomic statement so that every API process shares one budget. On refusal nothing is kept.
   */
  async reservePublish(count: number, budget: PublishBudget): Promise<Reservation> {
    const rows = (await this.direct.execute(
      sql`select * from hooklane_reserve_publish(${this.tenantId}, ${count}, ${budget.rate}, ${budget.burst}, ${budget.monthlyLimit}, ${usagePeriod()})`,
    )) as unknown as { ok: boolean; quota: string | null; tokens: number; rate: number; burst: number }[];
    const result = rows[0];
    if (result?.ok) return { ok: true };
    if (result?.quota === 'eventsPerMonth') return { ok: false, quota: 'eventsPerMonth', retryAfterSeconds: secondsUntilNextMonth() };
    if (!result || count > Number(result.burst)) return { ok: false, quota: 'publishRate', retryAfterSeconds: undefined };
    const wait = (count - Number(result.tokens)) / Number(result.rate);
    return { ok: false, quota: 'publishRate', retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
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
