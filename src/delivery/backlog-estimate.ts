/**
 * Each tenant's pending backlog as fair job priorities need it (see fairPriority). Counting walks
 * up to BACKLOG_COUNT_CAP index entries, which at every publish would cost more than the rest of a
 * small publish; fairness between tenants needs the order of magnitude, not the exact count. So a
 * tenant's backlog is counted at most once per `refreshMs` in each process and, in between,
 * advanced by the deliveries this process enqueued.
 */
export class BacklogEstimates {
  private readonly known = new Map<string, { count: number; countedAt: number }>();

  constructor(
    private readonly refreshMs = 1_000,
    private readonly maxTenants = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async current(tenantId: string, count: () => Promise<number>): Promise<number> {
    const known = this.known.get(tenantId);
    if (known && this.now() - known.countedAt < this.refreshMs) return known.count;
    const counted = await count();
    if (this.known.size >= this.maxTenants) this.known.clear();
    this.known.set(tenantId, { count: counted, countedAt: this.now() });
    return counted;
  }

  added(tenantId: string, deliveries: number): void {
    const known = this.known.get(tenantId);
    if (known) known.count += deliveries;
  }
}

/** The process's estimates, shared by every publish. */
export const backlogEstimates = new BacklogEstimates();
