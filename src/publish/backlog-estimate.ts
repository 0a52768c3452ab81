import { RefreshingCache } from '../refreshing-cache.js';

/**
 * Each tenant's pending backlog as fair job priorities need it (see fairPriority). Counting walks
 * up to BACKLOG_COUNT_CAP index entries, which at every publish would cost more than the rest of a
 * small publish; fairness between tenants needs the order of magnitude, not the exact count. So a
 * tenant's backlog is counted at most once per `refreshMs` in each process (one count at a time:
 * 32 concurrent publishes each started their own, a third of PostgreSQL's time per single
 * publish) and, in between, advanced by the deliveries this process enqueued.
 */
export class BacklogEstimates {
  private readonly counts: RefreshingCache<string, number>;

  constructor(refreshMs = 1_000, maxTenants = 10_000, now: () => number = Date.now) {
    this.counts = new RefreshingCache({ ttlMs: refreshMs, maxEntries: maxTenants, now });
  }

  current(tenantId: string, count: () => Promise<number>): Promise<number> {
    return this.counts.get(tenantId, count);
  }

  added(tenantId: string, deliveries: number): void {
    this.counts.update(tenantId, (count) => count + deliveries);
  }
}
