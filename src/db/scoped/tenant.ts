import { eq, sql } from 'drizzle-orm';
import type { Run } from '../client.js';
import { eventTypes, subscriptions, tenants } from '../schema.js';

/** The calendar month (UTC) usage is counted in, e.g. `2026-11`. */
export function usagePeriod(at: Date = new Date()): string {
  return at.toISOString().slice(0, 7);
}

/** The publish-rate bucket after a take: `ok`, or the tokens it holds (refilled to now) when it is short. */
export interface PublishTokens {
  ok: boolean;
  tokens: number;
  rate: number;
  burst: number;
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

  /**
   * Takes `count` tokens from the tenant's publish-rate bucket, all or none (hooklane_reserve_publish
   * without a period: the month's event allowance is not touched). The tenant's own rate and burst
   * apply where an operator set them, else `defaults`. Locks the tenant's row until the transaction
   * ends; undefined when the tenant does not exist.
   */
  async takePublishTokens(count: number, defaults: { rate: number; burst: number }): Promise<PublishTokens | undefined> {
    const [row] = (await this.run((db) =>
      db.execute(sql`select ok, quota, tokens, rate, burst
        from hooklane_reserve_publish(${this.tenantId}, ${count}::integer, ${defaults.rate}::float8, ${defaults.burst}::float8, null::integer, null::text)`),
    )) as unknown as { ok: boolean; quota: string | null; tokens: number; rate: number; burst: number }[];
    if (!row || row.quota === 'tenant') return undefined;
    return { ok: row.ok, tokens: Number(row.tokens), rate: Number(row.rate), burst: Number(row.burst) };
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
