import type { TenantScope } from '../db/tenant-scope.js';

interface Queued<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

interface TenantQueue<Item, Result> {
  inFlight: number;
  queue: Queued<Item, Result>[];
}

/** What a group's work gives each of its items, in order. */
export type Settled<Result> = { ok: true; value: Result } | { ok: false; error: unknown };

/**
 * Coalesces a tenant's concurrent requests to PostgreSQL. At most `maxInFlight` groups of one
 * tenant are under way; the items that arrive meanwhile wait, then go as one group (up to
 * `maxWeight`), so that under load many requests share one round trip and one transaction, and
 * at rest a request goes at once, alone.
 */
export class TenantGroups<Item, Result> {
  private readonly tenants = new Map<string, TenantQueue<Item, Result>>();

  constructor(
    private readonly work: (scope: TenantScope, items: readonly Item[]) => Promise<Settled<Result>[]>,
    private readonly options: { maxInFlight: number; maxWeight: number; weight: (item: Item) => number },
  ) {}

  submit(scope: TenantScope, item: Item): Promise<Result> {
    const tenant = this.tenants.get(scope.tenantId) ?? { inFlight: 0, queue: [] };
    this.tenants.set(scope.tenantId, tenant);
    return new Promise((resolve, reject) => {
      tenant.queue.push({ item, resolve, reject });
      this.next(scope, tenant);
    });
  }

  private next(scope: TenantScope, tenant: TenantQueue<Item, Result>): void {
    while (tenant.inFlight < this.options.maxInFlight && tenant.queue.length > 0) {
      const group = [tenant.queue.shift()!];
      let weight = this.options.weight(group[0]!.item);
      while (tenant.queue.length > 0 && weight + this.options.weight(tenant.queue[0]!.item) <= this.options.maxWeight) {
        const member = tenant.queue.shift()!;
        weight += this.options.weight(member.item);
        group.push(member);
      }
      tenant.inFlight++;
      void this.run(scope, tenant, group);
    }
  }

  private async run(scope: TenantScope, tenant: TenantQueue<Item, Result>, group: readonly Queued<Item, Result>[]): Promise<void> {
    let settled: Settled<Result>[];
    try {
      settled = await this.work(scope, group.map((member) => member.item));
    } catch (error) {
      settled = group.map(() => ({ ok: false, error }));
    }
    // The next group goes out before this one's callers go on: answering them is Node's work,
    // and PostgreSQL would otherwise wait for it (with one group under way, that wait bounded a
    // tenant's single publishes).
    tenant.inFlight--;
    if (tenant.inFlight === 0 && tenant.queue.length === 0) this.tenants.delete(scope.tenantId);
    else this.next(scope, tenant);
    group.forEach((member, index) => {
      const outcome = settled[index];
      if (outcome?.ok) member.resolve(outcome.value);
      else member.reject(outcome ? outcome.error : new Error('a grouped request got no result'));
    });
  }
}
