/**
 * Each tenant's pending backlog as fair job priorities need it (see fairPriority). Counting walks
 * up to BACKLOG_COUNT_CAP index entries, which at every publish would cost more than the rest of a
 * small publish; fairness between tenants needs the order of magnitude, not the exact count. So a
 * tenant's backlog is counted at most once per `refreshMs` in each process and, in between,
 * advanced by the deliveries this process enqueued.
 *
 * One count per tenant is under way at a time. While a known estimate is being refreshed, other
 * publishes take the known one rather than wait (or count too: 32 concurrent publishes each
 * started their own count, a quarter of PostgreSQL's time in single publishes); only a tenant's
 * first publishes wait for its first count, and share it.
 */
export class BacklogEstimates {
  private readonly known = new Map<string, { count: number; countedAt: number }>();
  private readonly counting = new Map<string, Promise<number>>();

  constructor(
    private readonly refreshMs = 1_000,
    private readonly maxTenants = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async current(tenantId: string, count: () => Promise<number>): Promise<number> {
    const known = this.known.get(tenantId);
    if (known && this.now() - known.countedAt < this.refreshMs) return known.count;
    const underWay = this.counting.get(tenantId);
    if (underWay) {
      if (known) return known.count;
      // The first count is someone else's statement (perhaps in their transaction): if it fails,
      // this publish counts for itself rather than fail with it.
      return underWay.catch(() => this.countNow(tenantId, count));
    }
    return this.countNow(tenantId, count);
  }

  added(tenantId: string, deliveries: number): void {
    const known = this.known.get(tenantId);
    if (known) known.count += deliveries;
  }

  private countNow(tenantId: string, count: () => Promise<number>): Promise<number> {
    const counting = count().then(
      (counted) => {
        if (this.known.size >= this.maxTenants && !this.known.has(tenantId)) this.known.clear();
        this.known.set(tenantId, { count: counted, countedAt: this.now() });
        return counted;
      },
    );
    this.counting.set(tenantId, counting);
    const settled = () => {
      if (this.counting.get(tenantId) === counting) this.counting.delete(tenantId);
    };
    counting.then(settled, settled);
    return counting;
  }
}

/** The process's estimates, shared by every publish. */
export const backlogEstimates = new BacklogEstimates();
