/**
 * What publishing read for a tenant's earlier publishes (event types, fan-out candidates), kept per
 * set of event type names and reused by the next publish of the same types: publishing then takes
 * one round trip instead of two. Safe because each read carries the tenant's publish context
 * version and the write checks it (StaleContextError when it has moved): a reused read never
 * outlives a change committed before a publish was called. Bounded: a few thousand entries.
 */
export class PublishReadsCache<Reads extends { version: number }> {
  private readonly tenants = new Map<string, Map<string, Reads>>();

  constructor(
    private readonly maxTenants = 1_000,
    private readonly maxPerTenant = 64,
  ) {}

  get(tenantId: string, names: readonly string[]): Reads | undefined {
    return this.tenants.get(tenantId)?.get(namesKey(names));
  }

  /** Keeps a fresh read; reads of another version are dropped (one of them is stale). */
  set(tenantId: string, names: readonly string[], reads: Reads): void {
    let entries = this.tenants.get(tenantId);
    const first = entries?.values().next().value;
    if (!entries || (first && first.version !== reads.version) || entries.size >= this.maxPerTenant) {
      if (!entries && this.tenants.size >= this.maxTenants) this.tenants.clear();
      entries = new Map();
      this.tenants.set(tenantId, entries);
    }
    entries.set(namesKey(names), reads);
  }

  forget(tenantId: string): void {
    this.tenants.delete(tenantId);
  }
}

function namesKey(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : [...names].sort().join('\n');
}
